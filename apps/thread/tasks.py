"""Periodic work of the thread app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.thread.services import attachments_delete_orphans, drafts_delete_stale


@shared_task(name="thread.delete_orphan_uploads", acks_late=True, ignore_result=True)
def delete_orphan_uploads() -> int:
    """Every hour: delete uploads that no post took within THREAD_UPLOAD_ORPHAN_HOURS, files too."""
    return attachments_delete_orphans()


@shared_task(name="thread.delete_stale_drafts", acks_late=True, ignore_result=True)
def delete_stale_drafts() -> int:
    """Every hour: delete drafts nobody touched for THREAD_DRAFT_MAX_AGE_DAYS."""
    return drafts_delete_stale()
