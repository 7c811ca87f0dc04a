"""Django configuration of the status app."""

from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "apps.status"
    label = "status"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.status import handlers  # noqa: F401  registers this app's event subscribers
