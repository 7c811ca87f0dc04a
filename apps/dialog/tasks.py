"""Periodic work of the dialog app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.dialog.services import attachments_delete_orphans


@shared_task(name="dialog.delete_orphan_uploads", acks_late=True, ignore_result=True)
def delete_orphan_uploads() -> int:
    """Every hour: delete uploads that no message took within DIALOG_UPLOAD_ORPHAN_HOURS, files too."""
    return attachments_delete_orphans()
