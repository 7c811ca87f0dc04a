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
        from apps.authorization.realtime import AUTHENTICATOR_NAME, member_from_access_cookie
        from apps.authorization.services import support_group_sync
        from forum.realtime import register_authenticator

        def sync_support_group(**kwargs: Any) -> None:
            support_group_sync()

        # After each app's migrations (not only this app's): the support group's model permissions
        # belong to other apps, whose permission rows appear when their own post_migrate runs.
        post_migrate.connect(sync_support_group, weak=False, dispatch_uid="authorization.support_group")
        # The SPA's WebSocket signs in with the access-token cookie; the session is asked after it.
        register_authenticator(AUTHENTICATOR_NAME, member_from_access_cookie)
