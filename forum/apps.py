"""The shared kernel as a Django app: it owns the outbox and the record of handled events."""

from django.apps import AppConfig


class ForumConfig(AppConfig):
    name = "forum"
    label = "forum"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_out

        from forum import celery_db, gc_policy, metrics, request_context, tasks  # noqa: F401  tasks: the kernel's periodic tasks
        from forum.realtime.auth import close_sockets_of_signed_out_session

        request_context.connect_celery_signals()
        metrics.connect_celery_signals()
        celery_db.connect_celery_signals()
        gc_policy.install()
        # Every sign-out closes the sockets of the session it ends (docs/realtime.md, docs/tokens.md).
        user_logged_out.connect(close_sockets_of_signed_out_session, dispatch_uid="forum.realtime.signout")
        if settings.SEARCH_BACKEND == "meilisearch":
            # The search server's state under /health/ready's details (docs/search.md); the client
            # is loaded only where Meilisearch is the backend.
            from forum.search.meilisearch import register_health_detail

            register_health_detail()
