"""Facts the dialog app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

import datetime

from forum.events import Event, event


@event("dialog.created", version=1)
class DialogCreated(Event):
    """A dialog was started; ``participant_ids`` includes the owner. ``is_group`` False for one-to-one."""

    dialog_id: int
    owner_id: int
    participant_ids: tuple[int, ...]
    is_group: bool
    title: str = ""


@event("dialog.message_created", version=1)
class DialogMessageCreated(Event):
    """A message was written. ``recipient_ids`` are the other participants at that moment;
    ``excerpt`` is plain text (no Markdown, at most 200 characters) for notifications and emails."""

    dialog_id: int
    message_id: int
    author_id: int
    recipient_ids: tuple[int, ...]
    excerpt: str
    created_at: datetime.datetime


@event("dialog.message_edited", version=1)
class DialogMessageEdited(Event):
    dialog_id: int
    message_id: int
    author_id: int
    participant_ids: tuple[int, ...]


@event("dialog.message_deleted", version=1)
class DialogMessageDeleted(Event):
    dialog_id: int
    message_id: int
    author_id: int
    participant_ids: tuple[int, ...]


@event("dialog.read", version=1)
class DialogRead(Event):
    """A participant's read position moved forward to ``message_id`` (a read receipt)."""

    dialog_id: int
    user_id: int
    message_id: int
    participant_ids: tuple[int, ...]


@event("dialog.participants_changed", version=1)
class DialogParticipantsChanged(Event):
    """Participants were added or removed by the owner, or one left (``actor_id`` == the one who left)."""

    dialog_id: int
    actor_id: int
    added_ids: tuple[int, ...]
    removed_ids: tuple[int, ...]
    participant_ids: tuple[int, ...]


@event("dialog.renamed", version=1)
class DialogRenamed(Event):
    """The owner gave a group a new title (not published when the title stayed the same)."""

    dialog_id: int
    actor_id: int
    title: str
    participant_ids: tuple[int, ...]


@event("dialog.member_blocked", version=1)
class MemberBlocked(Event):
    """``user_id`` blocked ``blocked_id``. Published so that other apps can stop notifying; never shown
    to the blocked member."""

    user_id: int
    blocked_id: int
