"""Django configuration of the thread app."""

from django.apps import AppConfig


class ThreadConfig(AppConfig):
    name = "apps.thread"
    label = "thread"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.thread import (
            handlers,  # noqa: F401  registers this app's event subscribers
            live,
            search_documents,
        )
        from apps.thread.activity import ThreadActivity
        from apps.thread.services import permissions_declare
        from apps.user.services import member_activity_source_register

        # The profile page lists a member's threads and posts through this (see activity.py).
        member_activity_source_register(ThreadActivity())
        # post.skip_premoderation: replies wait for a moderator without it (services/premoderation.py).
        permissions_declare()
        # Thread pages follow their thread live (the thread:<id> topic of the gateway).
        live.register()
        # Posts and threads are found by the kernel's search (search_documents.py).
        search_documents.register()
