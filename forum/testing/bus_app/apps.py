"""Test-only app that exercises the event bus with real handlers (installed only by the test profile)."""

from django.apps import AppConfig


class BusTestConfig(AppConfig):
    name = "forum.testing.bus_app"
    label = "testing_bus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from forum.testing.bus_app import handlers  # noqa: F401  registers the test subscribers
