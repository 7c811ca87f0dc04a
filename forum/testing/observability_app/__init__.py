"""Test-only app with a task and an event subscriber that the observability tests run in real workers."""
