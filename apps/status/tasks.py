"""Periodic work of the status app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.status.services import statuses_expire_due


@shared_task(name="status.expire_grants", acks_late=True, ignore_result=True)
def expire_grants() -> int:
    """Every minute: mark grants whose end has passed as expired and publish ``status.expired``."""
    return statuses_expire_due()
