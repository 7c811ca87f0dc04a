"""Django configuration of the user app."""

from django.apps import AppConfig


class UserConfig(AppConfig):
    name = "apps.user"
    label = "user"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.user import handlers  # noqa: F401  registers this app's event subscribers
