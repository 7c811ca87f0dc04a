"""Django configuration of the authentication app."""

from typing import Any

from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from forum import member_cache


class AuthenticationConfig(AppConfig):
    name = "apps.authentication"
    label = "authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authentication import handlers  # noqa: F401  registers this app's event subscribers

        # The account each request reads is kept in Redis (backends.get_user): every save of it (a new
        # password, a sign-in's last_login, a deactivation in the admin) and its deletion move it at
        # once, so that a password change signs the other sessions out on their next request.
        user_model = get_user_model()
        post_save.connect(_account_changed, sender=user_model, dispatch_uid="authentication.saved")
        post_delete.connect(_account_changed, sender=user_model, dispatch_uid="authentication.deleted")


def _account_changed(sender: object, instance: Any, **kwargs: object) -> None:
    if instance.pk is not None:
        member_cache.changed(member_cache.MEMBER_SCOPE, [int(instance.pk)])
