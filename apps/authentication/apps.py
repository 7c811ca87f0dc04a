"""Django configuration of the authentication app."""

from django.apps import AppConfig


class AuthenticationConfig(AppConfig):
    name = "apps.authentication"
    label = "authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authentication import handlers  # noqa: F401  registers this app's event subscribers
