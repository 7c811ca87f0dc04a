"""The observability test app; its tasks are registered once the apps are loaded."""

from django.apps import AppConfig


class ObservabilityTestConfig(AppConfig):
    name = "forum.testing.observability_app"
    label = "testing_observability"

    def ready(self) -> None:
        from forum.testing.observability_app import tasks  # noqa: F401  registers the tasks
