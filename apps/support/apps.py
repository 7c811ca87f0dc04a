"""Django configuration of the support app."""

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "apps.support"
    label = "support"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.support import handlers  # noqa: F401  registers this app's event subscribers
