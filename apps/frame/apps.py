"""Django configuration of the frame app."""

from django.apps import AppConfig


class FrameConfig(AppConfig):
    name = "apps.frame"
    label = "frame"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.frame import handlers  # noqa: F401  registers this app's event subscribers
