"""Messages: preview, write, edit and delete, with their attachments and the dialog's counters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import (
    limit,
)
from apps.dialog import selectors
from apps.dialog.events import (
    DialogMessageCreated,
    DialogMessageDeleted,
    DialogMessageEdited,
)
from apps.dialog.models import (
    BODY_MAX_LENGTH,
    Dialog,
    Message,
    MessageAttachment,
    Participant,
)
from apps.dialog.services._common import (
    _check_reachable,
    _clean_body,
    _dialog_for_update,
    _no_such_dialog,
    _unread_changed,
)
from apps.dialog.services.refs import MessageRef, _message_ref
from forum.bus import publish
from forum.errors import Forbidden, NotFound, ValidationFailed
from forum.markup import MentionTarget, render
from forum.ratelimit import preview_rate_limit_hit
from forum.uploads import delete_upload

# Notifications and emails show at most this much of a message, as plain text.
EXCERPT_LENGTH = 200


# --- Messages -----------------------------------------------------------------------------------------


def _render(body: str, dialog_id: int, participant_ids: Sequence[int] | None = None) -> tuple[str, str]:
    """The message's HTML (forum.markup, as for posts) and plain text. ``@name`` links only to the
    dialog's own participants (read when a name is there, unless the caller has them): a message
    tells nobody outside that they were named in it."""

    def resolve_mentions(names: Sequence[str]) -> Mapping[str, MentionTarget]:
        members = set(
            selectors.participant_ids(dialog_id=dialog_id) if participant_ids is None else participant_ids
        )
        found = selectors.member_ids_by_username(usernames=names)
        return {
            name: MentionTarget(user_id=user_id, profile_url=reverse("user:profile", args=[user_id]))
            for name, user_id in found.items()
            if user_id in members
        }

    rendered = render(body, resolve_mentions=resolve_mentions, max_length=BODY_MAX_LENGTH)
    return rendered.html, rendered.text


def message_preview(*, author_id: int, dialog_id: int, body: str) -> str:
    """The HTML ``body`` would be stored with as a message of ``author_id`` in the dialog, rendered
    exactly as ``message_create`` renders it; nothing is stored. NotFound unless the author takes part;
    longer than a message may be: ValidationFailed (``too_long``). At most MARKUP_PREVIEW_PER_MINUTE a
    minute per member, post previews included (RateLimited)."""
    if not selectors.is_participant(user_id=author_id, dialog_id=dialog_id):
        raise _no_such_dialog()
    _preview_length_check(body)
    preview_rate_limit_hit(user_id=author_id)
    html, _text = _render(body.strip(), dialog_id)
    return html


def message_preview_new(*, author_id: int, body: str, recipient_usernames: Sequence[str] = ()) -> str:
    """The HTML ``body`` would be stored with as the first message of a dialog that ``author_id`` starts
    with the members named (the new-dialog page's Preview, before the dialog exists): rendered as
    ``message_create`` renders it, ``@name`` linking only to the author and those members. Nothing is
    stored; the same length check and budget as ``message_preview``."""
    _preview_length_check(body)
    preview_rate_limit_hit(user_id=author_id)
    found = selectors.member_ids_by_username(usernames=recipient_usernames) if recipient_usernames else {}
    html, _text = _render(body.strip(), 0, participant_ids=[author_id, *found.values()])
    return html


def _preview_length_check(body: str) -> None:
    if len(body) > BODY_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH
        ) % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, code="too_long", fields={"body": [message]})


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def _attachment_count_check(user_id: int, attachment_ids: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(attachment_ids))
    if not unique:
        return unique
    most = limit(user_id=user_id, permission="dialog.attachments_max")
    if most is not None and len(unique) > most:
        message = ngettext(
            "At most %(count)d attachment on one message.",
            "At most %(count)d attachments on one message.",
            most,
        ) % {"count": most}
        raise ValidationFailed(message, code="too_many_attachments", fields={"attachment_ids": [message]})
    return unique


def _attach(author_id: int, dialog_id: int, message_id: int, attachment_ids: Sequence[int]) -> None:
    """Put the author's uploads waiting in this dialog on a new message; anything else among
    ``attachment_ids`` refuses the whole message."""
    if not attachment_ids:
        return
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    mine = MessageAttachment.objects.select_for_update().filter(
        pk__in=wanted, uploader_id=author_id, dialog_id=dialog_id, message__isnull=True
    )
    if len(mine.values_list("pk", flat=True)) != len(attachment_ids):
        message = _("An attachment is not one of your uploads waiting in this dialog.")
        raise ValidationFailed(message, code="attachment_unknown", fields={"attachment_ids": [message]})
    MessageAttachment.objects.filter(pk__in=wanted).update(message_id=message_id)


def _locked_for_writing(author_id: int, dialog_id: int) -> tuple[bool, tuple[int, ...]] | None:
    """Lock a dialog the author takes part in for a new message, and read whether it is a group and
    its participants in joining order, in one query; None when the dialog does not exist or the
    author is not in it (a guessed id locks nothing)."""
    if not selectors.valid_id(dialog_id):
        return None
    members = Participant.objects.filter(dialog_id=OuterRef("pk")).order_by("joined_at", "id")
    row = (
        Dialog.objects.select_for_update(of=("self",))
        .filter(pk=dialog_id)
        .filter(Exists(Participant.objects.filter(dialog_id=OuterRef("pk"), user_id=author_id)))
        .annotate(member_ids=ArraySubquery(members.values("user_id")))
        .values_list("is_group", "member_ids")
        .first()
    )
    if row is None:
        return None
    return bool(row[0]), tuple(int(user_id) for user_id in row[1])


def message_create(
    *, author_id: int, dialog_id: int, body: str, attachment_ids: Sequence[int] = ()
) -> MessageRef:
    """Write in a dialog one takes part in (NotFound otherwise). In a one-to-one dialog, a member who
    blocked the author, or whose account is closed, is not written to (``cannot_message``).
    ``attachment_ids`` are the author's uploads waiting in this dialog (``attachment_upload``), at
    most ``dialog.attachments_max``. The author's read position moves to the new message. Publishes
    ``dialog.message_created``.

    The write is on the path of every live message, so it is kept short: the dialog is locked and its
    participants read in one query, the checks run under that lock (a participant removed meanwhile
    is seen), and the counters of all participants move in one statement."""
    body = _clean_body(body)
    if not selectors.valid_id(dialog_id):
        raise _no_such_dialog()
    attachment_ids = _attachment_count_check(author_id, attachment_ids)
    with transaction.atomic():
        locked = _locked_for_writing(author_id, dialog_id)
        if locked is None:
            raise _no_such_dialog()
        is_group, members = locked
        recipients = tuple(user_id for user_id in members if user_id != author_id)
        if not is_group:
            _check_reachable(author_id, recipients, new_dialog=False)
        html, text = _render(body, dialog_id, members)
        now = timezone.now()
        message = Message.objects.create(
            dialog_id=dialog_id, author_id=author_id, body=body, body_html=html, created_at=now
        )
        _attach(author_id, dialog_id, message.pk, attachment_ids)
        Dialog.objects.filter(pk=dialog_id).update(last_message_id=message.pk, last_message_at=now)
        is_author = Q(user_id=author_id)
        Participant.objects.filter(dialog_id=dialog_id).update(
            unread_count=Case(When(is_author, then=Value(0)), default=F("unread_count") + 1),
            last_read_message_id=Case(
                When(is_author, then=Value(message.pk)),
                default=F("last_read_message_id"),
                output_field=Participant._meta.get_field("last_read_message_id"),
            ),
        )
        _unread_changed(members)
        publish(
            DialogMessageCreated(
                dialog_id=dialog_id,
                message_id=message.pk,
                author_id=author_id,
                recipient_ids=recipients,
                excerpt=_excerpt(text),
                created_at=now,
            )
        )
    return _message_ref(message)


def _message_for_change(user_id: int, message_id: int) -> tuple[Dialog, Message]:
    """Lock a message's dialog and the message, and check that ``user_id`` may change it: its author,
    still a participant, within DIALOG_MESSAGE_EDIT_WINDOW_MINUTES. Anyone outside the dialog gets
    NotFound."""
    location = selectors.message_location(message_id=message_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such message."))
    if not selectors.is_participant(user_id=user_id, dialog_id=location.dialog_id):
        raise NotFound(_("There is no such message."))
    dialog = _dialog_for_update(location.dialog_id)
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.deleted_at is not None or not selectors.is_participant(user_id=user_id, dialog_id=dialog.pk):
        raise NotFound(_("There is no such message."))
    if message.author_id != user_id:
        raise Forbidden(_("You may change only your own messages."), code="not_author")
    window = selectors.edit_window()
    if timezone.now() - message.created_at > window:
        raise Forbidden(
            ngettext(
                "Messages can be changed for %(minutes)d minute after they are written.",
                "Messages can be changed for %(minutes)d minutes after they are written.",
                int(window.total_seconds() // 60),
            )
            % {"minutes": int(window.total_seconds() // 60)},
            code="edit_window_over",
        )
    return dialog, message


def message_edit(*, editor_id: int, message_id: int, body: str) -> MessageRef:
    """Change one's own message within the edit window. Publishes ``dialog.message_edited``."""
    body = _clean_body(body)
    with transaction.atomic():
        dialog, message = _message_for_change(editor_id, message_id)
        if body == message.body:
            return _message_ref(message)
        message.body = body
        message.body_html, _text = _render(body, dialog.pk)
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "body_html", "edited_at"])
        publish(
            DialogMessageEdited(
                dialog_id=dialog.pk,
                message_id=message.pk,
                author_id=editor_id,
                participant_ids=selectors.participant_ids(dialog_id=dialog.pk),
            )
        )
    return _message_ref(message)


def message_delete(*, user_id: int, message_id: int) -> None:
    """Delete one's own message within the edit window: its words and files go, its id stays (read
    positions keep their meaning). It stops counting as unread. Publishes ``dialog.message_deleted``."""
    with transaction.atomic():
        dialog, message = _message_for_change(user_id, message_id)
        message.body = ""
        message.body_html = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "body_html", "deleted_at"])
        Participant.objects.filter(
            dialog=dialog, last_read_message_id__lt=message.pk, unread_count__gt=0
        ).exclude(user_id=message.author_id).update(unread_count=Greatest(F("unread_count") - 1, 0))
        participants = selectors.participant_ids(dialog_id=dialog.pk)
        _unread_changed(participants)
        files = list(
            MessageAttachment.objects.filter(message=message).values_list("storage_key", "thumbnail_key")
        )
        MessageAttachment.objects.filter(message=message).delete()
        for key, thumbnail in files:
            transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)
        if dialog.last_message_id == message.pk:
            dialog.last_message_id = (
                Message.objects.filter(dialog=dialog, deleted_at__isnull=True)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
            dialog.save(update_fields=["last_message_id"])
        publish(
            DialogMessageDeleted(
                dialog_id=dialog.pk,
                message_id=message.pk,
                author_id=message.author_id,
                participant_ids=participants,
            )
        )
