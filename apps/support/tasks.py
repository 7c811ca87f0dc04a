"""Periodic work of the support app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.support.services import attachments_delete_orphans, tickets_close_resolved


@shared_task(name="support.close_resolved_tickets", acks_late=True, ignore_result=True)
def close_resolved_tickets() -> int:
    """Every hour: close the tickets resolved more than SUPPORT_REOPEN_DAYS ago."""
    return tickets_close_resolved()


@shared_task(name="support.delete_orphan_uploads", acks_late=True, ignore_result=True)
def delete_orphan_uploads() -> int:
    """Every hour: delete uploads that no ticket message took within SUPPORT_UPLOAD_ORPHAN_HOURS."""
    return attachments_delete_orphans()
