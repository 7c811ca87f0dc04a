"""The dialog app's search documents: messages, found by their participants only (forum.search).

A message document's title is its dialog's title (a group's; a one-to-one dialog has none), searched
with more weight than the text, so that a word of a group's title finds its messages; a rename
refreshes every message of the dialog. A message document carries the dialog's current
participants: the search shows a message to those members alone (inside the query), staff included,
as the dialog pages do. A member who leaves a dialog stops finding its messages and one who joins
finds its history, as they see it on its page: a change of participants refreshes every message of
the dialog. A deleted message stays indexed, never found (``visible`` False).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence

from django.db.models import Exists, F, OuterRef, QuerySet
from django.urls import reverse
from django.utils.html import strip_tags

from apps.dialog.models import Message, MessageAttachment, Participant
from forum.search.base import (
    KIND_MESSAGE,
    Document,
    DocumentSource,
    detect_language,
    refresh,
    register_source,
)

APP = "dialog"
REFRESH_BATCH = 500


def _messages() -> QuerySet[Message]:
    attached = MessageAttachment.objects.filter(message_id=OuterRef("pk"))
    return Message.objects.annotate(attached=Exists(attached), dialog_title=F("dialog__title"))


def _participants(dialog_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    found: dict[int, list[int]] = {}
    rows = Participant.objects.filter(dialog_id__in=list(set(dialog_ids))).values_list("dialog_id", "user_id")
    for dialog_id, user_id in rows.order_by("dialog_id", "user_id"):
        found.setdefault(dialog_id, []).append(user_id)
    return {dialog_id: tuple(ids) for dialog_id, ids in found.items()}


def _documents(messages: Sequence[Message]) -> list[Document | None]:
    participants = _participants([m.dialog_id for m in messages])
    documents: list[Document | None] = []
    for message in messages:
        people = participants.get(message.dialog_id, ())
        if not people:  # nobody left in the dialog: nobody may find it
            documents.append(None)
            continue
        text = " ".join(html.unescape(strip_tags(message.body_html)).split())
        documents.append(
            Document(
                kind=KIND_MESSAGE,
                id=message.pk,
                app=APP,
                title=getattr(message, "dialog_title", ""),
                body=text,
                author_id=message.author_id,
                dialog_id=message.dialog_id,
                created_at=message.created_at,
                updated_at=message.edited_at or message.created_at,
                has_attachments=bool(getattr(message, "attached", False)),
                language=detect_language(text),
                url=reverse("dialog:detail", args=[message.dialog_id]) + f"#message-{message.pk}",
                visible=message.deleted_at is None,
                participant_ids=people,
            )
        )
    return documents


def _fetch(ids: Sequence[int]) -> Mapping[int, Document | None]:
    found: dict[int, Document | None] = dict.fromkeys(ids)
    messages = list(_messages().filter(pk__in=list(ids)))
    for message, document in zip(messages, _documents(messages), strict=True):
        found[message.pk] = document
    return found


def _batches(size: int) -> Iterator[Sequence[Document]]:
    last = 0
    while True:
        messages = list(_messages().filter(pk__gt=last).order_by("pk")[:size])
        if not messages:
            return
        last = messages[-1].pk
        yield [document for document in _documents(messages) if document is not None]


def register() -> None:
    """Hand the kernel's search the message documents (DialogConfig.ready)."""
    register_source(
        DocumentSource(
            kind=KIND_MESSAGE,
            app=APP,
            batches=_batches,
            fetch=_fetch,
            count=lambda: Message.objects.count(),
        )
    )


def refresh_message(message_id: int) -> None:
    refresh(KIND_MESSAGE, [message_id])


def refresh_dialog(dialog_id: int) -> None:
    """Every message of a dialog: who may find them follows its participants."""
    ids = list(Message.objects.filter(dialog_id=dialog_id).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), REFRESH_BATCH):
        refresh(KIND_MESSAGE, ids[start : start + REFRESH_BATCH])
