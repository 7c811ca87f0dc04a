"""The dialog app's own subscribers: they push each dialog event to every open tab of every member it
concerns, on whichever server process holds the tab (forum.realtime over the Redis layer), so that a
dialog page, the list of dialogs and the header's badge stay current everywhere.

Each frame carries ids, the message's stored HTML (rendered once when written, the same for every
participant: only participants receive it) and the receiving member's own counts. What is pushed is
read when the push is made, so a message edited or deleted in between is pushed as it is now. Frames
go after the handler's transaction commits (``on_commit=True``). The kinds and payloads are listed in
docs/dialogs.md.

Also the check of the live topic ``dialog:<id>`` (registered by apps.py), on which the participants
whisper "typing…".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse

from apps.dialog import search_documents, selectors, services
from apps.dialog.events import (
    DialogCreated,
    DialogMessageCreated,
    DialogMessageDeleted,
    DialogMessageEdited,
    DialogParticipantsChanged,
    DialogRead,
    DialogRenamed,
)
from forum.bus import subscribe
from forum.realtime import send_to_users


def topic_check(user_id: int, key: str) -> bool:
    """May ``user_id`` subscribe to ``dialog:<key>``: participants only (forum.realtime's contract)."""
    return services.dialog_topic_allowed(user_id=user_id, key=key)


def _push(kind: str, dialog_id: int, payload: dict[str, Any], *, also: Iterable[int] = ()) -> None:
    """Send ``payload`` to each participant (and to the members in ``also``), with their own unread
    count here and their badge (all the frames together after the commit: one round trip to the
    layer). The participants and their counts are one query; ``also`` costs one more."""
    audience = selectors.push_audience(dialog_id=dialog_id)
    states = dict(audience.states)
    extra = [user_id for user_id in dict.fromkeys(also) if user_id not in states]
    if extra:
        states.update(selectors.unread_states(dialog_id=dialog_id, user_ids=extra))
    frames = []
    for user_id in [*audience.participant_ids, *extra]:
        state = states.get(user_id)
        counts = {
            "unread_count": state.unread_count if state else 0,
            "unread_dialogs": state.unread_dialogs if state else 0,
        }
        frames.append((user_id, kind, {**payload, **counts}))
    send_to_users(frames, on_commit=True)


def _attachment(item: selectors.AttachmentRow) -> dict[str, Any]:
    return {
        "id": item.id,
        "original_name": item.original_name,
        "content_type": item.content_type,
        "size": item.size,
        "width": item.width,
        "height": item.height,
        "url": reverse("dialog:attachment", args=[item.id, item.original_name]),
        "thumbnail_url": reverse("dialog:attachment-thumbnail", args=[item.id, item.original_name])
        if item.has_thumbnail
        else None,
    }


@subscribe(DialogMessageCreated, name="dialog.on_message_created")
def on_message_created(event: DialogMessageCreated) -> None:
    message = selectors.message_for_push(message_id=event.message_id)
    if message is None:
        return  # deleted since: its deletion is pushed on its own
    payload = {
        "dialog_id": event.dialog_id,
        "message_id": event.message_id,
        # The id before this one in the dialog: a tab whose last message is older fetches the gap.
        "previous_message_id": message["previous_message_id"],
        "author_id": message["author_id"],
        "author": message["author"],
        "html": message["body_html"],
        "created_at": message["created_at"].isoformat(),
        "edited_at": message["edited_at"].isoformat() if message["edited_at"] else None,
        "attachments": [_attachment(item) for item in message["attachments"]],
    }
    _push("dialog.message_created", event.dialog_id, payload)


@subscribe(DialogMessageEdited, name="dialog.on_message_edited")
def on_message_edited(event: DialogMessageEdited) -> None:
    message = selectors.message_for_push(message_id=event.message_id)
    if message is None:
        return
    payload = {
        "dialog_id": event.dialog_id,
        "message_id": event.message_id,
        "html": message["body_html"],
        "edited_at": message["edited_at"].isoformat() if message["edited_at"] else None,
    }
    _push("dialog.message_edited", event.dialog_id, payload)


@subscribe(DialogMessageDeleted, name="dialog.on_message_deleted")
def on_message_deleted(event: DialogMessageDeleted) -> None:
    payload = {"dialog_id": event.dialog_id, "message_id": event.message_id}
    _push("dialog.message_deleted", event.dialog_id, payload)


@subscribe(DialogRead, name="dialog.on_read")
def on_read(event: DialogRead) -> None:
    position = selectors.read_position(user_id=event.user_id, dialog_id=event.dialog_id)
    payload = {
        "dialog_id": event.dialog_id,
        "user_id": event.user_id,
        # The reader's position now (a later receipt may have moved it further since).
        "message_id": max(event.message_id, position or 0),
    }
    _push("dialog.read", event.dialog_id, payload)


@subscribe(DialogCreated, name="dialog.on_created")
def on_created(event: DialogCreated) -> None:
    payload = {"dialog_id": event.dialog_id, "is_group": event.is_group}
    _push("dialog.created", event.dialog_id, payload)


@subscribe(DialogParticipantsChanged, name="dialog.on_participants_changed")
def on_participants_changed(event: DialogParticipantsChanged) -> None:
    members = selectors.participant_ids(dialog_id=event.dialog_id)
    payload = {
        "dialog_id": event.dialog_id,
        "added_ids": list(event.added_ids),
        "removed_ids": list(event.removed_ids),
        "participant_ids": list(members),
    }
    # Those who were taken out hear it too, so that the dialog leaves their list.
    _push("dialog.participants_changed", event.dialog_id, payload, also=event.removed_ids)


# --- search: messages and who may find them, refreshed from the current state (search_documents.py) --


@subscribe(DialogMessageCreated, name="dialog.search_on_message_created")
def search_on_message_created(event: DialogMessageCreated) -> None:
    search_documents.refresh_message(event.message_id)


@subscribe(DialogMessageEdited, name="dialog.search_on_message_edited")
def search_on_message_edited(event: DialogMessageEdited) -> None:
    search_documents.refresh_message(event.message_id)


@subscribe(DialogMessageDeleted, name="dialog.search_on_message_deleted")
def search_on_message_deleted(event: DialogMessageDeleted) -> None:
    search_documents.refresh_message(event.message_id)


@subscribe(DialogParticipantsChanged, name="dialog.search_on_participants_changed")
def search_on_participants_changed(event: DialogParticipantsChanged) -> None:
    search_documents.refresh_dialog(event.dialog_id)


@subscribe(DialogRenamed, name="dialog.search_on_renamed")
def search_on_renamed(event: DialogRenamed) -> None:
    search_documents.refresh_dialog(event.dialog_id)
