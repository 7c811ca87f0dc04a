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
        # A forum saved or deleted (the admin, forum_create) moves the version of the forums' structure
        # once it commits; the counters' updates save no forum and move nothing.
        from django.db.models.signals import post_delete, post_save

        from apps.thread.models import Forum
        from apps.thread.selectors import FORUM_STRUCTURE_SCOPE
        from forum.versioned_cache import changed_committed

        def structure_changed(**_kwargs: object) -> None:
            changed_committed(FORUM_STRUCTURE_SCOPE)

        for signal, uid in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(structure_changed, sender=Forum, weak=False, dispatch_uid=f"thread.forum.{uid}")
