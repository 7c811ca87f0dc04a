"""The plain data the dialog services take and return (frozen dataclasses, never model instances)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from apps.dialog.models import (
    Dialog,
    Message,
)

# --- Plain data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DialogRef:
    id: int
    is_group: bool
    title: str
    owner_id: int
    participant_ids: tuple[int, ...]
    # False when an existing one-to-one dialog was returned instead of a new one.
    created: bool = False


@dataclass(frozen=True)
class MessageRef:
    id: int
    dialog_id: int
    author_id: int
    created_at: datetime.datetime
    edited_at: datetime.datetime | None


@dataclass(frozen=True)
class ReadRef:
    dialog_id: int
    user_id: int
    last_read_message_id: int
    unread_count: int


@dataclass(frozen=True)
class AttachmentRef:
    id: int
    dialog_id: int
    message_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool


@dataclass(frozen=True)
class PrivacyRef:
    user_id: int
    followed_only: bool


@dataclass(frozen=True)
class DialogSettingsRef:
    """A member's dialog settings: the privacy choice, and whether Enter sends a message."""

    user_id: int
    followed_only: bool
    enter_sends: bool


def _dialog_ref(dialog: Dialog, participant_ids: Sequence[int], *, created: bool) -> DialogRef:
    return DialogRef(
        id=dialog.pk,
        is_group=dialog.is_group,
        title=dialog.title,
        owner_id=dialog.owner_id,
        participant_ids=tuple(participant_ids),
        created=created,
    )


def _message_ref(message: Message) -> MessageRef:
    return MessageRef(
        id=message.pk,
        dialog_id=message.dialog_id,
        author_id=message.author_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
    )
