"""Read state, unread counts, the live topic check, and the evidence a report of a message copies."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from apps.dialog import selectors
from apps.dialog.events import (
    DialogRead,
)
from apps.dialog.models import (
    Message,
)
from apps.dialog.services._common import UNREAD_PART, _locked_dialog_of, _unread_changed
from apps.dialog.services.refs import ReadRef
from forum import member_cache
from forum.bus import publish
from forum.errors import NotFound

# --- Read state ---------------------------------------------------------------------------------------


def dialog_mark_read(*, user_id: int, dialog_id: int, message_id: int | None = None) -> ReadRef:
    """A read receipt: the member has seen the dialog up to ``message_id`` (None: its last message).
    The position never moves back; when it moves, the unread count is counted again and
    ``dialog.read`` is published (the "seen by" of the others' tabs)."""
    with transaction.atomic():
        dialog, row = _locked_dialog_of(user_id, dialog_id)
        newest = selectors.last_message_id(dialog_id=dialog.pk)
        target = newest if message_id is None else min(max(0, message_id), newest)
        if target > row.last_read_message_id:
            row.last_read_message_id = target
            row.unread_count = (
                Message.objects.filter(dialog=dialog, id__gt=target, deleted_at__isnull=True)
                .exclude(author_id=user_id)
                .count()
            )
            row.save(update_fields=["last_read_message_id", "unread_count"])
            _unread_changed([user_id])
            publish(
                DialogRead(
                    dialog_id=dialog.pk,
                    user_id=user_id,
                    message_id=target,
                    participant_ids=selectors.participant_ids(dialog_id=dialog.pk),
                )
            )
    return ReadRef(
        dialog_id=dialog.pk,
        user_id=user_id,
        last_read_message_id=row.last_read_message_id,
        unread_count=row.unread_count,
    )


def message_seen(*, user_id: int, dialog_id: int, message_id: int) -> bool:
    """True when the participant's read position has reached the message, or when they are not a
    participant any more (nothing is waiting for them there). One query."""
    position = selectors.read_position(user_id=user_id, dialog_id=dialog_id)
    return position is None or position >= message_id


# Messages on each side of a reported one that a report copies at most.
EVIDENCE_AROUND_MAX = 10


@dataclass(frozen=True)
class MessageBrief:
    """A message as a report's evidence keeps it (the support app copies it into the report's ticket)."""

    id: int
    dialog_id: int
    author_id: int
    body_html: str
    created_at: datetime.datetime
    reported: bool  # the message reported, not one around it


def message_evidence(*, reporter_id: int, message_id: int, around: int = 3) -> tuple[MessageBrief, ...]:
    """The message ``reporter_id`` reports and up to ``around`` messages before and after it in its
    dialog (deleted ones left out), oldest first: what a report of a dialog message hands to support,
    and the only way support ever reads a dialog. NotFound unless the reporter takes part in the
    dialog and the message is there, as for no such message. Four queries."""
    location = selectors.message_location(message_id=message_id)
    if (
        location is None
        or location.deleted
        or not selectors.is_participant(user_id=reporter_id, dialog_id=location.dialog_id)
    ):
        raise NotFound(_("There is no such message."))
    around = max(0, min(around, EVIDENCE_AROUND_MAX))
    shown = Message.objects.filter(dialog_id=location.dialog_id, deleted_at__isnull=True)
    fields = ("id", "dialog_id", "author_id", "body_html", "created_at")
    before = list(shown.filter(id__lt=message_id).order_by("-id").values(*fields)[:around]) if around else []
    after = list(shown.filter(id__gte=message_id).order_by("id").values(*fields)[: around + 1])
    return tuple(MessageBrief(**row, reported=row["id"] == message_id) for row in [*reversed(before), *after])


def unread_dialog_count(*, user_id: int) -> int:
    """How many of the member's dialogs hold messages they have not read (one query): the badge."""
    return selectors.unread_dialog_count(user_id=user_id)


def unread_dialog_count_kept(*, user_id: int) -> int:
    """``unread_dialog_count`` as the header shows it on every page: kept per member in Redis until
    the member's unread state changes (forum.member_cache), read from the database otherwise."""
    return member_cache.read(UNREAD_PART, user_id, lambda: selectors.unread_dialog_count(user_id=user_id))


def dialog_topic_allowed(*, user_id: int, key: str) -> bool:
    """The check of the live topic ``dialog:<id>``: participants only, False for anything else
    (another member's dialog, no such dialog, a key that is not an id)."""
    if not key.isdigit() or len(key) > 19:
        return False
    return selectors.is_participant(user_id=user_id, dialog_id=int(key))
