"""Django configuration of the authorization app."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuthorizationConfig(AppConfig):
    name = "apps.authorization"
    label = "authorization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authorization import handlers  # noqa: F401  registers this app's event subscribers
        from apps.authorization.services import support_group_sync

        def sync_support_group(**kwargs: Any) -> None:
            support_group_sync()

        # After each app's migrations (not only this app's): the support group's model permissions
        # belong to other apps, whose permission rows appear when their own post_migrate runs.
        post_migrate.connect(sync_support_group, weak=False, dispatch_uid="authorization.support_group")
