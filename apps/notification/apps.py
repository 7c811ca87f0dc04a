"""Django configuration of the notification app."""

from django.apps import AppConfig


class NotificationConfig(AppConfig):
    name = "apps.notification"
    label = "notification"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.notification import handlers  # noqa: F401  registers this app's event subscribers
