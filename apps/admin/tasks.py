"""Periodic work of the admin (moderation) app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.admin.queue_count import queue_count_refresh
from apps.admin.services import bans_end_due, restrictions_end_due, warnings_expire_due


@shared_task(name="forum_admin.expire_warnings", acks_late=True, ignore_result=True)
def expire_warnings() -> int:
    """Every minute: mark warnings past their end as expired."""
    return warnings_expire_due()


@shared_task(name="forum_admin.end_restrictions", acks_late=True, ignore_result=True)
def end_restrictions() -> int:
    """Every minute: end the sanctions of escalations and the bans staff gave whose time is up."""
    return restrictions_end_due() + bans_end_due()


@shared_task(name="forum_admin.refresh_queue_count", acks_late=True, ignore_result=True)
def refresh_queue_count() -> int:
    """Count the moderation queue again and push it when it moved (threads held for premoderation
    publish nothing, so nothing else tells the header about them)."""
    return queue_count_refresh()
