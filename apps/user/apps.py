"""Django configuration of the user app."""

from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save


class UserConfig(AppConfig):
    name = "apps.user"
    label = "user"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.user import (
            handlers,  # noqa: F401  registers this app's event subscribers
            search_documents,
        )

        # Members are found by the kernel's search (search_documents.py).
        search_documents.register()
        # An account saved (a name, a deactivation: the admin's form publishes no event) moves what
        # the profile pages keep (forum.versioned_cache; services.PAGES_SCOPE).
        post_save.connect(_account_saved, sender=get_user_model(), dispatch_uid="user.account_saved")


def _account_saved(sender: object, update_fields: frozenset[str] | None = None, **kwargs: object) -> None:
    from apps.user.services import PAGES_SCOPE
    from forum import versioned_cache

    if update_fields is not None and update_fields <= {"last_login", "password"}:
        return  # a sign-in or a new password: nothing a page shows
    versioned_cache.changed_committed(PAGES_SCOPE)
