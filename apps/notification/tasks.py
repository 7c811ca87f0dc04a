"""Periodic and scheduled work of the notification app (beat schedule in config/settings.py)."""

from __future__ import annotations

from celery import shared_task

from apps.notification import services


@shared_task(name="notification.dialog_notices_check", acks_late=True, ignore_result=True)
def dialog_notices_check(message_id: int) -> int:
    """Scheduled by the dialog message handler, NOTIFICATION_DIALOG_DELAY_SECONDS after the message:
    notify its recipients who have not seen it."""
    return len(services.dialog_notices_deliver(message_id=message_id))


@shared_task(name="notification.dialog_notices_sweep", acks_late=True, ignore_result=True)
def dialog_notices_sweep() -> int:
    """Every minute: the notices whose scheduled check was lost."""
    return services.dialog_notices_sweep()


@shared_task(name="notification.warn_expiring_statuses", acks_late=True, ignore_result=True)
def warn_expiring_statuses() -> int:
    """Every hour: warn members whose status ends within NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS."""
    return services.statuses_expiring_notify()


@shared_task(name="notification.send_digests", acks_late=True, ignore_result=True)
def send_digests() -> int:
    """Every hour: the day's digests, once a member, from NOTIFICATION_DIGEST_HOUR (UTC) on."""
    return services.digests_send()
