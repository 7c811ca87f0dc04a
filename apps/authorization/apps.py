"""Django configuration of the authorization app."""

from django.apps import AppConfig


class AuthorizationConfig(AppConfig):
    name = "apps.authorization"
    label = "authorization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authorization import handlers  # noqa: F401  registers this app's event subscribers
