"""Notifications from the dialog app: a message not seen after a delay, and forgetting what was read
or deleted."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.dialog import services as dialog_services
from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.models import Notification, PendingDialogNotice
from apps.notification.services.delivery import _About, _deliver, _push_read


def dialog_message_pending(
    *, dialog_id: int, message_id: int, author_id: int, recipient_ids: Sequence[int], excerpt: str
) -> list[int]:
    """Remember a new message for each recipient, to check after ``NOTIFICATION_DIALOG_DELAY_SECONDS``
    whether they saw it (the caller schedules that check after the commit). Returns the recipients."""
    due_at = timezone.now() + datetime.timedelta(seconds=float(settings.NOTIFICATION_DIALOG_DELAY_SECONDS))
    recipients = sorted(
        {user_id for user_id in recipient_ids if user_id != author_id and 0 < user_id < 2**63}
    )
    PendingDialogNotice.objects.bulk_create(
        [
            PendingDialogNotice(
                recipient_id=user_id,
                dialog_id=dialog_id,
                message_id=message_id,
                author_id=author_id,
                excerpt=excerpt[:200],
                due_at=due_at,
            )
            for user_id in recipients
        ],
        ignore_conflicts=True,
    )
    return recipients


def dialog_notices_deliver(*, message_id: int) -> list[int]:
    """After the delay: notify each recipient of a message they have not seen yet (asking the dialog
    app), one row per dialog that counts the messages since they last read it."""
    with transaction.atomic():
        notices = selectors.notices_of_message(message_id=message_id)
        if not notices:
            return []
        first = notices[0]
        unseen = [
            notice.recipient_id
            for notice in notices
            if not dialog_services.message_seen(
                user_id=notice.recipient_id, dialog_id=notice.dialog_id, message_id=notice.message_id
            )
        ]
        PendingDialogNotice.objects.filter(pk__in=[notice.pk for notice in notices]).delete()
        about = _About(
            source=f"dialog:{first.dialog_id}",
            actor_id=first.author_id,
            params={"dialog_id": first.dialog_id, "message_id": first.message_id, "excerpt": first.excerpt},
        )
        return _deliver({user_id: [registry.DIALOG_MESSAGE.code] for user_id in unseen}, about)


def dialog_notices_sweep(*, batch: int = 200) -> int:
    """Deliver notices whose check was lost (a worker down when it was due): run every minute."""
    before = timezone.now() - datetime.timedelta(seconds=30)
    messages = selectors.notice_messages_due(before=before, batch=batch)
    return sum(len(dialog_notices_deliver(message_id=message_id)) for message_id in messages)


def dialog_read_forget(*, user_id: int, dialog_id: int, message_id: int) -> None:
    """A member read a dialog up to a message: what they saw needs no notification any more."""
    with transaction.atomic():
        PendingDialogNotice.objects.filter(
            recipient_id=user_id, dialog_id=dialog_id, message_id__lte=message_id
        ).delete()
        row = (
            Notification.objects.select_for_update()
            .filter(recipient_id=user_id, source=f"dialog:{dialog_id}", read_at__isnull=True)
            .first()
        )
        latest = row.params.get("message_id") if row is not None else None
        if row is not None and isinstance(latest, int) and latest <= message_id:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)


def dialog_message_deleted_forget(*, message_id: int) -> None:
    PendingDialogNotice.objects.filter(message_id=message_id).delete()
