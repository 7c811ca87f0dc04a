"""Test-only app that registers real-time topics in server processes (installed by the realtime tests)."""

from django.apps import AppConfig


class RealtimeTestConfig(AppConfig):
    name = "forum.testing.realtime_app"
    label = "testing_realtime"

    def ready(self) -> None:
        from forum.testing.realtime_app import topics

        topics.register()
