"""The shared kernel as a Django app: it owns the outbox and the record of handled events."""

from django.apps import AppConfig


class ForumConfig(AppConfig):
    name = "forum"
    label = "forum"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from forum import celery_db, gc_policy, metrics, request_context, tasks  # noqa: F401  tasks: the kernel's periodic tasks

        request_context.connect_celery_signals()
        metrics.connect_celery_signals()
        celery_db.connect_celery_signals()
        gc_policy.install()
