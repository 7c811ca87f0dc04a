"""Django configuration of the dialog app."""

from django.apps import AppConfig


class DialogConfig(AppConfig):
    name = "apps.dialog"
    label = "dialog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.dialog import handlers  # noqa: F401  registers this app's event subscribers
