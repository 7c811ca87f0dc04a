"""Reads of the dialog app: a member's dialogs, one dialog with its participants, pages of messages
before or after any message, attachments, blocks and the unread badge.

Only participants read a dialog: every read here starts from the viewer's own participant row, so a
dialog the viewer is not in is simply not found. Every page is a fixed number of queries whatever it
holds: the rows in one, the participants of all listed dialogs in one, the members' names in one
(``users_brief``), attachments in one.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import strip_tags

from apps.dialog.models import Block, Dialog, Message, MessageAttachment, Participant, Privacy
from apps.user.services import users_brief
from forum import sql
from forum.paging import Page, page_in_range

DIALOGS_PER_PAGE = 25
MESSAGES_PER_PAGE = 30
MESSAGES_PER_PAGE_MAX = 100
BLOCKS_MAX = 500
_MAX_ID = 2**63 - 1


def valid_id(value: int) -> bool:
    return 0 < value <= _MAX_ID


def edit_window() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(settings.DIALOG_MESSAGE_EDIT_WINDOW_MINUTES))


def _usernames(user_ids: Iterable[int]) -> dict[int, str]:
    wanted = {user_id for user_id in user_ids if valid_id(user_id)}
    if not wanted:
        return {}
    return {brief.id: brief.username for brief in users_brief(user_ids=wanted)}


# --- Rows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantRow:
    user_id: int
    username: str
    joined_at: datetime.datetime
    last_read_message_id: int
    is_owner: bool


@dataclass(frozen=True)
class MessagePreview:
    id: int
    author_id: int
    author: str
    text: str  # plain text, not escaped: the first words of the message
    created_at: datetime.datetime


@dataclass(frozen=True)
class DialogRow:
    id: int
    is_group: bool
    title: str  # as set; empty for one-to-one dialogs
    owner_id: int
    created_at: datetime.datetime
    last_message_at: datetime.datetime
    participants: tuple[ParticipantRow, ...]
    last_message: MessagePreview | None
    # The viewer's own read state.
    viewer_id: int
    last_read_message_id: int
    unread_count: int

    @property
    def others(self) -> tuple[ParticipantRow, ...]:
        return tuple(p for p in self.participants if p.user_id != self.viewer_id)

    @property
    def name(self) -> str:
        """The title of a group; for a one-to-one dialog, the other member's name."""
        if self.title:
            return self.title
        return ", ".join(p.username for p in self.others) or "—"

    @property
    def is_owner(self) -> bool:
        return self.owner_id == self.viewer_id

    @property
    def participant_ids(self) -> tuple[int, ...]:
        return tuple(p.user_id for p in self.participants)


_DIALOG_FIELDS = (
    "dialog_id",
    "dialog__is_group",
    "dialog__title",
    "dialog__owner_id",
    "dialog__created_at",
    "dialog__last_message_at",
    "dialog__last_message_id",
    "last_read_message_id",
    "unread_count",
)

PREVIEW_LENGTH = 120


def _preview_text(body_html: str) -> str:
    """The first words of a message as plain text (not escaped), from its stored HTML."""
    text = " ".join(html.unescape(strip_tags(body_html.replace("<", " <"))).split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def _dialog_rows(viewer_id: int, rows: Sequence[dict[str, Any]]) -> tuple[DialogRow, ...]:
    """Dialogs from their viewer's participant rows: every participant of all of them in one query
    and the last messages in one, each with the members' names (read along the relation to the
    shared user model, the one relation across apps)."""
    dialog_ids = [row["dialog_id"] for row in rows]
    if not dialog_ids:
        return ()
    participants: dict[int, list[dict[str, Any]]] = {}
    for member in (
        Participant.objects.filter(dialog_id__in=dialog_ids)
        .order_by("joined_at", "id")
        .values("dialog_id", "user_id", "user__username", "joined_at", "last_read_message_id")
    ):
        participants.setdefault(member["dialog_id"], []).append(dict(member))
    last_ids = [row["dialog__last_message_id"] for row in rows if row["dialog__last_message_id"]]
    last_messages = {
        row["id"]: row
        for row in Message.objects.filter(pk__in=last_ids).values(
            "id", "author_id", "author__username", "body_html", "created_at"
        )
    }
    result = []
    for row in rows:
        owner_id = row["dialog__owner_id"]
        last = last_messages.get(row["dialog__last_message_id"] or 0)
        result.append(
            DialogRow(
                id=row["dialog_id"],
                is_group=row["dialog__is_group"],
                title=row["dialog__title"],
                owner_id=owner_id,
                created_at=row["dialog__created_at"],
                last_message_at=row["dialog__last_message_at"],
                participants=tuple(
                    ParticipantRow(
                        user_id=p["user_id"],
                        username=p["user__username"],
                        joined_at=p["joined_at"],
                        last_read_message_id=p["last_read_message_id"],
                        is_owner=p["user_id"] == owner_id,
                    )
                    for p in participants.get(row["dialog_id"], [])
                ),
                last_message=None
                if last is None
                else MessagePreview(
                    id=last["id"],
                    author_id=last["author_id"],
                    author=last["author__username"],
                    text=_preview_text(last["body_html"]),
                    created_at=last["created_at"],
                ),
                viewer_id=viewer_id,
                last_read_message_id=row["last_read_message_id"],
                unread_count=row["unread_count"],
            )
        )
    return tuple(result)


def dialog_page(*, viewer_id: int, page: int = 1) -> Page[DialogRow]:
    """The viewer's dialogs, the most recently active first, with the last message and the viewer's
    unread count (four queries whatever the page holds)."""
    mine = Participant.objects.filter(user_id=viewer_id)
    total = mine.count()
    number = page_in_range(page, total, DIALOGS_PER_PAGE)
    start = (number - 1) * DIALOGS_PER_PAGE
    rows = list(
        mine.order_by("-dialog__last_message_at", "-dialog_id").values(*_DIALOG_FIELDS)[
            start : start + DIALOGS_PER_PAGE
        ]
    )
    return Page(items=_dialog_rows(viewer_id, rows), number=number, per_page=DIALOGS_PER_PAGE, total=total)


def dialog_row(*, viewer_id: int, dialog_id: int) -> DialogRow | None:
    """One dialog the viewer takes part in (three queries), or None: not there, or not theirs."""
    if not valid_id(dialog_id):
        return None
    rows = list(Participant.objects.filter(user_id=viewer_id, dialog_id=dialog_id).values(*_DIALOG_FIELDS))
    items = _dialog_rows(viewer_id, rows)
    return items[0] if items else None


def is_participant(*, user_id: int, dialog_id: int) -> bool:
    if not (valid_id(user_id) and valid_id(dialog_id)):
        return False
    return Participant.objects.filter(user_id=user_id, dialog_id=dialog_id).exists()


def participant_ids(*, dialog_id: int) -> tuple[int, ...]:
    return tuple(
        Participant.objects.filter(dialog_id=dialog_id)
        .order_by("joined_at", "id")
        .values_list("user_id", flat=True)
    )


def read_position(*, user_id: int, dialog_id: int) -> int | None:
    """How far a participant has read (0: nothing), or None when they are not a participant."""
    if not (valid_id(user_id) and valid_id(dialog_id)):
        return None
    return (
        Participant.objects.filter(user_id=user_id, dialog_id=dialog_id)
        .values_list("last_read_message_id", flat=True)
        .first()
    )


def unread_dialog_count(*, user_id: int) -> int:
    """How many of the member's dialogs hold messages they have not read: one query, in SQL (the
    header's badge on every page a member opens; the ORM took three times the query's time)."""
    if not valid_id(user_id):
        return 0
    table = Participant._meta.db_table
    return sql.count(f'SELECT count(*) FROM "{table}" WHERE "user_id" = %s AND "unread_count" > 0', [user_id])


@dataclass(frozen=True)
class UnreadState:
    unread_count: int  # in the dialog; 0 for who is not in it
    unread_dialogs: int  # the member's badge


def unread_states(*, dialog_id: int, user_ids: Sequence[int]) -> dict[int, UnreadState]:
    """Each member's unread count in one dialog and their badge (one query for all of them)."""
    wanted = [user_id for user_id in dict.fromkeys(user_ids) if valid_id(user_id)]
    if not wanted:
        return {}
    rows = Participant.objects.filter(user_id__in=wanted).filter(
        Q(dialog_id=dialog_id) | Q(unread_count__gt=0)
    )
    return _states(dialog_id, wanted, rows.values_list("user_id", "dialog_id", "unread_count"))


def _states(
    dialog_id: int, user_ids: Sequence[int], rows: Iterable[tuple[int, int, int]]
) -> dict[int, UnreadState]:
    """``UnreadState`` of each member from their participant rows (``user_id, dialog_id,
    unread_count``) in this dialog and in every dialog where they have something unread."""
    in_dialog: dict[int, int] = {}
    badges: dict[int, int] = {}
    for user_id, row_dialog_id, unread_count in rows:
        if row_dialog_id == dialog_id:
            in_dialog[user_id] = unread_count
        if unread_count > 0:
            badges[user_id] = badges.get(user_id, 0) + 1
    return {
        user_id: UnreadState(
            unread_count=int(in_dialog.get(user_id, 0)), unread_dialogs=badges.get(user_id, 0)
        )
        for user_id in user_ids
    }


@dataclass(frozen=True)
class Audience:
    """Who a live push of a dialog goes to: its participants in joining order, and each one's counts."""

    participant_ids: tuple[int, ...]
    states: dict[int, UnreadState]


def push_audience(*, dialog_id: int) -> Audience:
    """The participants and their unread states, in one query: the rows of the dialog's participants
    here and wherever they have something unread."""
    members = Participant.objects.filter(dialog_id=dialog_id).values("user_id")
    rows = (
        Participant.objects.filter(user_id__in=Subquery(members))
        .filter(Q(dialog_id=dialog_id) | Q(unread_count__gt=0))
        .values_list("user_id", "dialog_id", "unread_count", "joined_at", "id")
    )
    found = list(rows)
    here = sorted((row for row in found if row[1] == dialog_id), key=lambda row: (row[3], row[4]))
    ids = tuple(row[0] for row in here)
    return Audience(participant_ids=ids, states=_states(dialog_id, ids, (row[:3] for row in found)))


# --- Messages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    message_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool

    @property
    def is_image(self) -> bool:
        return self.has_thumbnail


@dataclass(frozen=True)
class MessageRow:
    id: int
    dialog_id: int
    author_id: int
    author: str
    body: str
    body_html: str
    created_at: datetime.datetime
    edited_at: datetime.datetime | None
    attachments: tuple[AttachmentRow, ...]
    # Participants other than the author whose read position has reached this message.
    seen_by: tuple[int, ...]
    # The viewer wrote it and the edit window is still open.
    can_change: bool


@dataclass(frozen=True)
class MessagePage:
    items: tuple[MessageRow, ...]
    has_before: bool  # older messages exist (fetch with before=items[0].id)
    has_after: bool  # newer messages exist (fetch with after=items[-1].id)

    @property
    def first_id(self) -> int | None:
        return self.items[0].id if self.items else None

    @property
    def last_id(self) -> int | None:
        return self.items[-1].id if self.items else None


_ATTACHMENT_FIELDS = (
    "id",
    "message_id",
    "original_name",
    "content_type",
    "size",
    "width",
    "height",
    "thumbnail_key",
)


def _attachment_row(row: dict[str, Any]) -> AttachmentRow:
    values = dict(row)
    values["has_thumbnail"] = bool(values.pop("thumbnail_key"))
    return AttachmentRow(**values)


def attachments_of(*, message_ids: Sequence[int]) -> dict[int, tuple[AttachmentRow, ...]]:
    """The attachments of each message, in upload order (one query)."""
    found: dict[int, list[AttachmentRow]] = {}
    if message_ids:
        rows = MessageAttachment.objects.filter(message_id__in=list(message_ids)).order_by("id")
        for row in rows.values(*_ATTACHMENT_FIELDS):
            found.setdefault(row["message_id"], []).append(_attachment_row(row))
    return {message_id: tuple(items) for message_id, items in found.items()}


_MESSAGE_FIELDS = ("id", "dialog_id", "author_id", "body", "body_html", "created_at", "edited_at")


def message_rows(
    *, dialog: DialogRow, rows: Sequence[dict[str, Any]], now: datetime.datetime | None = None
) -> tuple[MessageRow, ...]:
    """Messages of a dialog the viewer is in, with attachments (one query) and authors' names (the
    participants' are known; one query for authors who have left)."""
    now = now or timezone.now()
    window = edit_window()
    names = {p.user_id: p.username for p in dialog.participants}
    missing = {row["author_id"] for row in rows} - names.keys()
    if missing:
        names.update(_usernames(missing))
    attachments = attachments_of(message_ids=[row["id"] for row in rows])
    items = []
    for row in rows:
        items.append(
            MessageRow(
                id=row["id"],
                dialog_id=row["dialog_id"],
                author_id=row["author_id"],
                author=names.get(row["author_id"], ""),
                body=row["body"],
                body_html=row["body_html"],
                created_at=row["created_at"],
                edited_at=row["edited_at"],
                attachments=attachments.get(row["id"], ()),
                seen_by=tuple(
                    p.user_id
                    for p in dialog.participants
                    if p.user_id != row["author_id"] and p.last_read_message_id >= row["id"]
                ),
                can_change=row["author_id"] == dialog.viewer_id and now - row["created_at"] <= window,
            )
        )
    return tuple(items)


def message_page(
    *,
    dialog: DialogRow,
    before: int | None = None,
    after: int | None = None,
    limit: int = MESSAGES_PER_PAGE,
) -> MessagePage:
    """A page of a dialog's messages in order, oldest first: the latest ``limit`` ones, or the ones
    just before the message ``before``, or just after the message ``after`` (cursors are message ids;
    the message itself is not included). Deleted messages are left out. Four queries at most (the
    messages, whether there are more on the other side, attachments, names of authors who left)."""
    limit = max(1, min(limit, MESSAGES_PER_PAGE_MAX))
    visible = Message.objects.filter(dialog_id=dialog.id, deleted_at__isnull=True)
    if after is not None:
        rows = list(visible.filter(id__gt=after).order_by("id").values(*_MESSAGE_FIELDS)[: limit + 1])
        has_after = len(rows) > limit
        rows = rows[:limit]
        has_before = after > 0 and visible.filter(id__lte=after).exists()
    else:
        newest_first = visible.order_by("-id")
        if before is not None:
            newest_first = newest_first.filter(id__lt=before)
        rows = list(newest_first.values(*_MESSAGE_FIELDS)[: limit + 1])
        has_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        has_after = before is not None and visible.filter(id__gte=before).exists()
    return MessagePage(
        items=message_rows(dialog=dialog, rows=rows), has_before=has_before, has_after=has_after
    )


def with_read_position(
    *, dialog: DialogRow, page: MessagePage, position: int, unread_count: int
) -> tuple[DialogRow, MessagePage]:
    """The dialog and its page again after the viewer's read position moved to ``position`` (no query)."""
    participants = tuple(
        replace(p, last_read_message_id=position) if p.user_id == dialog.viewer_id else p
        for p in dialog.participants
    )
    dialog = replace(
        dialog, participants=participants, last_read_message_id=position, unread_count=unread_count
    )
    items = tuple(
        replace(
            item,
            seen_by=tuple(
                p.user_id
                for p in participants
                if p.user_id != item.author_id and p.last_read_message_id >= item.id
            ),
        )
        for item in page.items
    )
    return dialog, replace(page, items=items)


def message_one(*, dialog: DialogRow, message_id: int) -> MessageRow | None:
    """One message of a dialog the viewer is in, not deleted (two queries), or None."""
    if not valid_id(message_id):
        return None
    rows = list(
        Message.objects.filter(pk=message_id, dialog_id=dialog.id, deleted_at__isnull=True).values(
            *_MESSAGE_FIELDS
        )
    )
    items = message_rows(dialog=dialog, rows=rows)
    return items[0] if items else None


@dataclass(frozen=True)
class MessageLocation:
    id: int
    dialog_id: int
    author_id: int
    created_at: datetime.datetime
    deleted: bool


def message_location(*, message_id: int) -> MessageLocation | None:
    if not valid_id(message_id):
        return None
    row = (
        Message.objects.filter(pk=message_id)
        .values("id", "dialog_id", "author_id", "created_at", "deleted_at")
        .first()
    )
    if row is None:
        return None
    return MessageLocation(
        id=row["id"],
        dialog_id=row["dialog_id"],
        author_id=row["author_id"],
        created_at=row["created_at"],
        deleted=row["deleted_at"] is not None,
    )


def message_for_push(*, message_id: int) -> dict[str, Any] | None:
    """What a live push of a message carries, read when the push is made (None when it is gone): the
    message, its author's name and the id before it in one query, its attachments in a second one
    only when it has some."""
    earlier = Message.objects.filter(dialog_id=OuterRef("dialog_id"), id__lt=OuterRef("id")).order_by("-id")
    found = (
        Message.objects.filter(pk=message_id, deleted_at__isnull=True)
        .annotate(
            author_name=F("author__username"),
            previous_message_id=Subquery(earlier.values("id")[:1]),
            with_attachments=Exists(MessageAttachment.objects.filter(message_id=OuterRef("id"))),
        )
        .values(
            "id",
            "dialog_id",
            "author_id",
            "author_name",
            "body_html",
            "created_at",
            "edited_at",
            "previous_message_id",
            "with_attachments",
        )
        .first()
    )
    if found is None:
        return None
    row: dict[str, Any] = dict(found)
    row["previous_message_id"] = row["previous_message_id"] or 0
    row["author"] = row.pop("author_name") or ""
    with_attachments = row.pop("with_attachments")
    row["attachments"] = (
        attachments_of(message_ids=[message_id]).get(message_id, ()) if with_attachments else ()
    )
    return row


def last_message_id(*, dialog_id: int) -> int:
    """The highest message id of a dialog, deleted ones included (0 when it has none)."""
    found = Message.objects.filter(dialog_id=dialog_id).aggregate(last=Max("id"))["last"]
    return int(found or 0)


# --- Attachments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentFile:
    """Where an attachment's bytes are, for a download the viewer may make."""

    id: int
    storage_key: str
    thumbnail_key: str
    content_type: str
    original_name: str


def attachment_for_download(*, viewer_id: int | None, attachment_id: int) -> AttachmentFile | None:
    """An attachment the viewer may download, or None (a 404): it does not exist, its dialog is not
    the viewer's (staff included), or it is on no message yet and the viewer did not upload it."""
    if viewer_id is None or not valid_id(attachment_id):
        return None
    row = (
        MessageAttachment.objects.filter(pk=attachment_id)
        .values(
            "id",
            "dialog_id",
            "message_id",
            "uploader_id",
            "storage_key",
            "thumbnail_key",
            "content_type",
            "original_name",
        )
        .first()
    )
    if row is None:
        return None
    if row["message_id"] is None and row["uploader_id"] != viewer_id:
        return None
    if not is_participant(user_id=viewer_id, dialog_id=row["dialog_id"]):
        return None
    return AttachmentFile(
        id=row["id"],
        storage_key=row["storage_key"],
        thumbnail_key=row["thumbnail_key"],
        content_type=row["content_type"],
        original_name=row["original_name"],
    )


# --- Members, blocks, privacy -------------------------------------------------------------------------


def member_ids_by_username(*, usernames: Sequence[str]) -> dict[str, int]:
    """Active accounts by lowercase username, in one query; unknown names are left out.

    Read from the shared user model, which every app may reference (the one relation across apps).
    """
    wanted = list(dict.fromkeys(name.strip().lower() for name in usernames if name.strip()))
    if not wanted:
        return {}
    rows = (
        get_user_model()
        .objects.annotate(name_lower=Lower("username"))
        .filter(name_lower__in=wanted, is_active=True)
        .values_list("name_lower", "pk")
    )
    return {str(name): int(pk) for name, pk in rows}


def blocks_between(*, user_id: int, other_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """Who among ``other_ids`` blocked ``user_id``, and whom among them ``user_id`` blocked (one
    query for both)."""
    blocked_by: set[int] = set()
    blocked: set[int] = set()
    if not other_ids:
        return blocked_by, blocked
    others = list(other_ids)
    rows = (
        Block.objects.filter(
            Q(user_id__in=others, blocked_id=user_id) | Q(user_id=user_id, blocked_id__in=others)
        )
        .order_by()
        .values_list("user_id", "blocked_id")
    )
    for blocker_id, blocked_id in rows:
        if blocked_id == user_id:
            blocked_by.add(blocker_id)
        else:
            blocked.add(blocked_id)
    return blocked_by, blocked


def block_exists(*, user_id: int, blocked_id: int) -> bool:
    if not (valid_id(user_id) and valid_id(blocked_id)):
        return False
    return Block.objects.filter(user_id=user_id, blocked_id=blocked_id).exists()


@dataclass(frozen=True)
class BlockRow:
    blocked_id: int
    username: str
    created_at: datetime.datetime


def blocks_of(*, user_id: int) -> tuple[BlockRow, ...]:
    """The members the user blocked, newest first (two queries)."""
    rows = list(
        Block.objects.filter(user_id=user_id)
        .order_by("-created_at", "-id")
        .values("blocked_id", "created_at")[:BLOCKS_MAX]
    )
    names = _usernames(row["blocked_id"] for row in rows)
    return tuple(
        BlockRow(
            blocked_id=row["blocked_id"],
            username=names.get(row["blocked_id"], ""),
            created_at=row["created_at"],
        )
        for row in rows
    )


def followed_only_among(*, user_ids: Sequence[int]) -> set[int]:
    """The members among ``user_ids`` who accept dialogs only from the people they follow."""
    if not user_ids:
        return set()
    return set(
        Privacy.objects.filter(user_id__in=list(user_ids), followed_only=True).values_list(
            "user_id", flat=True
        )
    )


def dialog_owner_and_kind(*, dialog_id: int) -> tuple[int, bool] | None:
    row = Dialog.objects.filter(pk=dialog_id).values_list("owner_id", "is_group").first()
    return None if row is None else (int(row[0]), bool(row[1]))
