"""What the test handlers did: one row per time a handler acted on an event."""

from typing import ClassVar

from django.db import models


class HandlerEffect(models.Model):
    key = models.CharField(max_length=100)
    handler = models.CharField(max_length=100)
    value = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    # Declared because mypy's Django plugin does not see this test-only app in INSTALLED_APPS.
    objects: ClassVar[models.Manager["HandlerEffect"]] = models.Manager()

    def __str__(self) -> str:
        return f"{self.handler} {self.key}: {self.value}"
