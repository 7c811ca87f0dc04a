"""Published interface of the dialog app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Only participants read or write a dialog; anyone else, staff included, is told that there is no such
dialog (``NotFound``), whatever the id. Who may start dialogs, how many a day and how many members a
group may hold are the permission engine's answers (``dialog.start``, ``dialog.start_per_day``,
``dialog.max_participants``, ``dialog.attachments_max``), so statuses change them.

A member who cannot be written to (they blocked the writer, they accept dialogs only from the people
they follow, their account is closed, or there is no such account) is refused with one and the same
``Forbidden`` (``cannot_message``): the writer learns nothing more.

Every change happens under the dialog's row lock, which orders the messages of a dialog (ids grow in
the order messages commit) and keeps the denormalised counters right: the dialog's last message and
each participant's unread count. Events are published in the same transaction; the app's own handlers
push them to the participants' open tabs (handlers.py).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.authorization.services import (
    Permission,
    Role,
    limit,
    permission_declare,
    permissions_for,
    quota_consume,
    quota_refund,
    require,
)
from apps.dialog import selectors
from apps.dialog.events import (
    DialogCreated,
    DialogMessageCreated,
    DialogMessageDeleted,
    DialogMessageEdited,
    DialogParticipantsChanged,
    DialogRead,
    MemberBlocked,
)
from apps.dialog.models import (
    BODY_MAX_LENGTH,
    PENDING_ATTACHMENTS_MAX,
    TITLE_MAX_LENGTH,
    Block,
    Dialog,
    Message,
    MessageAttachment,
    Participant,
    Privacy,
)
from apps.user.services import follows, users_brief
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.markup import MentionTarget, render
from forum.ratelimit import preview_rate_limit_hit
from forum.uploads import delete_unclaimed, delete_upload, store_upload

__all__ = [
    "EXCERPT_LENGTH",
    "AttachmentRef",
    "DialogRef",
    "DialogSettingsRef",
    "MessageBrief",
    "MessageRef",
    "PrivacyRef",
    "ReadRef",
    "attachment_upload",
    "attachments_delete_orphans",
    "attachments_discard",
    "block_add",
    "block_exists",
    "block_remove",
    "dialog_group_start",
    "dialog_leave",
    "dialog_mark_read",
    "dialog_privacy_get",
    "dialog_privacy_set",
    "dialog_rename",
    "dialog_settings_get",
    "dialog_settings_set",
    "dialog_start",
    "dialog_topic_allowed",
    "message_create",
    "message_delete",
    "message_edit",
    "message_evidence",
    "message_preview",
    "message_seen",
    "participant_remove",
    "participants_add",
    "permissions_declare",
    "unread_dialog_count",
]

# Notifications and emails show at most this much of a message, as plain text.
EXCERPT_LENGTH = 200


def permissions_declare() -> None:
    """The dialog app's own permission (the others are declared with the registry); from ready()."""
    permission_declare(
        Permission.limit(
            "dialog.attachments_max",
            gettext_lazy("Attachments on one message"),
            user=5,
            support=10,
        )
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


# --- Checks -------------------------------------------------------------------------------------------

R = TypeVar("R")


def _paid(user_id: int, permission: str, action: Callable[[], R]) -> R:
    """Run ``action`` on one use of a quota, given back if the action fails."""
    use = quota_consume(user_id=user_id, permission=permission)
    try:
        return action()
    except BaseException:
        quota_refund(user_id=user_id, permission=permission, use_id=use.use_id)
        raise


def _no_such_dialog() -> NotFound:
    return NotFound(_("There is no such dialog."))


def _cannot_message(field: str = "participant_ids") -> Forbidden:
    message = _("You cannot message this member.")
    return Forbidden(message, code="cannot_message", fields={field: [message]})


def _is_staff(user_id: int) -> bool:
    return permissions_for(user_id=user_id).role in (Role.SUPPORT, Role.ADMIN)


def _check_reachable(sender_id: int, recipient_ids: Sequence[int], *, new_dialog: bool) -> None:
    """Refuse (``cannot_message``, the same for every reason) when a recipient does not exist or is
    closed, blocked the sender, or (for a new dialog or a new member of a group) accepts dialogs only
    from the people they follow and does not follow the sender, who is not staff either. A recipient
    the sender blocked is refused with its own message: that tells the sender nothing new."""
    wanted = list(dict.fromkeys(recipient_ids))
    if not wanted:
        return
    if not all(selectors.valid_id(user_id) for user_id in wanted):
        raise _cannot_message()
    active = {brief.id for brief in users_brief(user_ids=wanted) if brief.is_active}
    if len(active) != len(wanted):
        raise _cannot_message()
    blocked_by, blocked = selectors.blocks_between(user_id=sender_id, other_ids=wanted)
    if blocked_by:
        raise _cannot_message()
    if blocked:
        message = _("You have blocked this member; unblock them to write to them.")
        raise Forbidden(message, code="blocked_by_you", fields={"participant_ids": [message]})
    if new_dialog:
        picky = selectors.followed_only_among(user_ids=wanted)
        if picky and not _is_staff(sender_id):
            for recipient_id in picky:
                if not follows(user_id=recipient_id, target_id=sender_id):
                    raise _cannot_message()


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed(_("Write something first."), fields={"body": [_("This field is required.")]})
    if len(body) > BODY_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH
        ) % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, code="too_long", fields={"body": [message]})
    return body


def _clean_title(title: str, *, required: bool) -> str:
    title = " ".join(title.split())
    if required and not title:
        message = _("A group dialog needs a title.")
        raise ValidationFailed(message, fields={"title": [message]})
    if len(title) > TITLE_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", TITLE_MAX_LENGTH
        ) % {"count": TITLE_MAX_LENGTH}
        raise ValidationFailed(message, code="too_long", fields={"title": [message]})
    return title


def _check_group_size(owner_id: int, count: int) -> None:
    most = limit(user_id=owner_id, permission="dialog.max_participants")
    if most is not None and count > most:
        message = ngettext(
            "A dialog of yours may have at most %(count)d participant, you included.",
            "A dialog of yours may have at most %(count)d participants, you included.",
            most,
        ) % {"count": most}
        raise ValidationFailed(message, code="too_many_participants", fields={"participant_ids": [message]})


def _dialog_for_update(dialog_id: int) -> Dialog:
    dialog = (
        Dialog.objects.select_for_update().filter(pk=dialog_id).first()
        if selectors.valid_id(dialog_id)
        else None
    )
    if dialog is None:
        raise _no_such_dialog()
    return dialog


def _participant(dialog_id: int, user_id: int) -> Participant:
    """The member's participant row (locking it), or NotFound as for a dialog that does not exist."""
    row = Participant.objects.select_for_update().filter(dialog_id=dialog_id, user_id=user_id).first()
    if row is None:
        raise _no_such_dialog()
    return row


def _locked_dialog_of(user_id: int, dialog_id: int) -> tuple[Dialog, Participant]:
    """Lock a dialog the member takes part in; NotFound (a guessed id) otherwise."""
    if not selectors.is_participant(user_id=user_id, dialog_id=dialog_id):
        raise _no_such_dialog()
    dialog = _dialog_for_update(dialog_id)
    return dialog, _participant(dialog_id, user_id)


# --- Starting dialogs ---------------------------------------------------------------------------------


def _pair_key(first: int, second: int) -> str:
    low, high = sorted((first, second))
    return f"{low}:{high}"


def _existing_pair(starter_id: int, recipient_id: int) -> Dialog | None:
    return Dialog.objects.filter(is_group=False, pair_key=_pair_key(starter_id, recipient_id)).first()


def dialog_start(*, starter_id: int, recipient_id: int) -> DialogRef:
    """Open the one-to-one dialog with ``recipient_id``: the existing one when there is one (``created``
    False), else a new one, which takes one of the day's ``dialog.start_per_day``. Refused with
    ``cannot_message`` when the recipient cannot be written to. Publishes ``dialog.created``."""
    require(user_id=starter_id, permission="dialog.start")
    if recipient_id == starter_id:
        message = _("You cannot start a dialog with yourself.")
        raise ValidationFailed(message, code="dialog_self", fields={"participant_ids": [message]})
    existing = _existing_pair(starter_id, recipient_id) if selectors.valid_id(recipient_id) else None
    _check_reachable(starter_id, [recipient_id], new_dialog=existing is None)
    if existing is not None:
        return _dialog_ref(existing, selectors.participant_ids(dialog_id=existing.pk), created=False)

    def create() -> DialogRef:
        now = timezone.now()
        try:
            with transaction.atomic():
                dialog = Dialog.objects.create(
                    is_group=False,
                    owner_id=starter_id,
                    pair_key=_pair_key(starter_id, recipient_id),
                    created_at=now,
                    last_message_at=now,
                )
                members = (starter_id, recipient_id)
                Participant.objects.bulk_create(
                    [Participant(dialog=dialog, user_id=user_id, joined_at=now) for user_id in members]
                )
                publish(
                    DialogCreated(
                        dialog_id=dialog.pk, owner_id=starter_id, participant_ids=members, is_group=False
                    )
                )
        except IntegrityError:
            # Both members started it at once: the other start won, and this one is that dialog.
            found = _existing_pair(starter_id, recipient_id)
            if found is None:
                raise
            raise _AlreadyThere(found) from None
        return _dialog_ref(dialog, members, created=True)

    try:
        return _paid(starter_id, "dialog.start_per_day", create)
    except _AlreadyThere as there:
        return _dialog_ref(there.dialog, selectors.participant_ids(dialog_id=there.dialog.pk), created=False)


class _AlreadyThere(Exception):
    """Control flow inside dialog_start (the quota use is given back); never raised out of it."""

    def __init__(self, dialog: Dialog) -> None:
        super().__init__(dialog.pk)
        self.dialog = dialog


def dialog_group_start(*, owner_id: int, title: str, participant_ids: Sequence[int]) -> DialogRef:
    """Start a group dialog with a title; ``participant_ids`` are the others (the owner is added).
    At most ``dialog.max_participants`` members in all; takes one of the day's ``dialog.start_per_day``.
    Publishes ``dialog.created``."""
    require(user_id=owner_id, permission="dialog.start")
    title = _clean_title(title, required=True)
    others = [user_id for user_id in dict.fromkeys(participant_ids) if user_id != owner_id]
    if not others:
        message = _("Choose at least one member to write to.")
        raise ValidationFailed(message, fields={"participant_ids": [message]})
    _check_group_size(owner_id, len(others) + 1)
    _check_reachable(owner_id, others, new_dialog=True)

    def create() -> DialogRef:
        now = timezone.now()
        members = (owner_id, *others)
        with transaction.atomic():
            dialog = Dialog.objects.create(
                is_group=True, title=title, owner_id=owner_id, created_at=now, last_message_at=now
            )
            Participant.objects.bulk_create(
                [Participant(dialog=dialog, user_id=user_id, joined_at=now) for user_id in members]
            )
            publish(
                DialogCreated(
                    dialog_id=dialog.pk,
                    owner_id=owner_id,
                    participant_ids=members,
                    is_group=True,
                    title=title,
                )
            )
        return _dialog_ref(dialog, members, created=True)

    return _paid(owner_id, "dialog.start_per_day", create)


# --- Groups: participants, leaving, the title ---------------------------------------------------------


def _owned_group(owner_id: int, dialog_id: int) -> Dialog:
    dialog, _row = _locked_dialog_of(owner_id, dialog_id)
    if not dialog.is_group:
        raise Conflict(_("A one-to-one dialog has no other participants to manage."), code="not_a_group")
    if dialog.owner_id != owner_id:
        raise Forbidden(_("Only the dialog's owner manages its participants."), code="not_owner")
    return dialog


def participants_add(*, owner_id: int, dialog_id: int, user_ids: Sequence[int]) -> DialogRef:
    """The owner adds members to a group (within their ``dialog.max_participants``). Newcomers see the
    history, none of it unread. Publishes ``dialog.participants_changed``."""
    with transaction.atomic():
        dialog = _owned_group(owner_id, dialog_id)
        current = list(selectors.participant_ids(dialog_id=dialog.pk))
        added = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in current]
        if not added:
            return _dialog_ref(dialog, current, created=False)
        _check_group_size(owner_id, len(current) + len(added))
        _check_reachable(owner_id, added, new_dialog=True)
        now = timezone.now()
        seen = selectors.last_message_id(dialog_id=dialog.pk)
        Participant.objects.bulk_create(
            [
                Participant(dialog=dialog, user_id=user_id, joined_at=now, last_read_message_id=seen)
                for user_id in added
            ]
        )
        members = (*current, *added)
        publish(
            DialogParticipantsChanged(
                dialog_id=dialog.pk,
                actor_id=owner_id,
                added_ids=tuple(added),
                removed_ids=(),
                participant_ids=members,
            )
        )
    return _dialog_ref(dialog, members, created=False)


def _drop(dialog: Dialog, user_id: int) -> None:
    """Take a member out of a dialog (under its lock), with their uploads still waiting there."""
    Participant.objects.filter(dialog=dialog, user_id=user_id).delete()
    waiting = list(
        MessageAttachment.objects.filter(
            dialog=dialog, uploader_id=user_id, message__isnull=True
        ).values_list("pk", "storage_key", "thumbnail_key")
    )
    MessageAttachment.objects.filter(pk__in=[pk for pk, _key, _thumb in waiting]).delete()
    for _pk, key, thumbnail in waiting:
        transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)


def participant_remove(*, owner_id: int, dialog_id: int, user_id: int) -> DialogRef:
    """The owner removes a member from a group (removing oneself is leaving). Publishes
    ``dialog.participants_changed``."""
    if user_id == owner_id:
        return dialog_leave(user_id=owner_id, dialog_id=dialog_id)
    with transaction.atomic():
        dialog = _owned_group(owner_id, dialog_id)
        current = list(selectors.participant_ids(dialog_id=dialog.pk))
        if user_id not in current:
            raise NotFound(_("This member is not in the dialog."))
        _drop(dialog, user_id)
        members = tuple(uid for uid in current if uid != user_id)
        publish(
            DialogParticipantsChanged(
                dialog_id=dialog.pk,
                actor_id=owner_id,
                added_ids=(),
                removed_ids=(user_id,),
                participant_ids=members,
            )
        )
    return _dialog_ref(dialog, members, created=False)


def dialog_leave(*, user_id: int, dialog_id: int) -> DialogRef:
    """Any participant may leave a group; an owner who leaves hands the group to the member who has
    been in it longest. One-to-one dialogs cannot be left (block the member instead). Publishes
    ``dialog.participants_changed``."""
    with transaction.atomic():
        dialog, _row = _locked_dialog_of(user_id, dialog_id)
        if not dialog.is_group:
            raise Conflict(
                _("A one-to-one dialog cannot be left; block the member if they bother you."),
                code="not_a_group",
            )
        _drop(dialog, user_id)
        members = selectors.participant_ids(dialog_id=dialog.pk)
        if dialog.owner_id == user_id and members:
            dialog.owner_id = members[0]
            dialog.save(update_fields=["owner"])
        publish(
            DialogParticipantsChanged(
                dialog_id=dialog.pk,
                actor_id=user_id,
                added_ids=(),
                removed_ids=(user_id,),
                participant_ids=members,
            )
        )
    return _dialog_ref(dialog, members, created=False)


def dialog_rename(*, owner_id: int, dialog_id: int, title: str) -> DialogRef:
    """The owner changes a group's title."""
    title = _clean_title(title, required=True)
    with transaction.atomic():
        dialog = _owned_group(owner_id, dialog_id)
        if dialog.title != title:
            dialog.title = title
            dialog.save(update_fields=["title"])
        members = selectors.participant_ids(dialog_id=dialog.pk)
    return _dialog_ref(dialog, members, created=False)


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
    if len(body) > BODY_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH
        ) % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, code="too_long", fields={"body": [message]})
    preview_rate_limit_hit(user_id=author_id)
    html, _text = _render(body.strip(), dialog_id)
    return html


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
                participant_ids=selectors.participant_ids(dialog_id=dialog.pk),
            )
        )


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


def dialog_topic_allowed(*, user_id: int, key: str) -> bool:
    """The check of the live topic ``dialog:<id>``: participants only, False for anything else
    (another member's dialog, no such dialog, a key that is not an id)."""
    if not key.isdigit() or len(key) > 19:
        return False
    return selectors.is_participant(user_id=user_id, dialog_id=int(key))


# --- Attachments --------------------------------------------------------------------------------------


def _attachment_ref(row: MessageAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        dialog_id=row.dialog_id,
        message_id=row.message_id,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_upload(
    *, uploader_id: int, dialog_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a message being written in a dialog one takes part in (the kernel checks type
    and size and strips metadata); it is the uploader's alone until a message takes it by id. At most
    PENDING_ATTACHMENTS_MAX uploads wait per member and dialog."""
    if not selectors.is_participant(user_id=uploader_id, dialog_id=dialog_id):
        raise _no_such_dialog()
    if limit(user_id=uploader_id, permission="dialog.attachments_max") == 0:
        raise Forbidden(_("You may not attach files."), code="attachments_not_allowed")
    waiting = MessageAttachment.objects.filter(
        uploader_id=uploader_id, dialog_id=dialog_id, message__isnull=True
    ).count()
    if waiting >= PENDING_ATTACHMENTS_MAX:
        raise Conflict(
            _("Too many uploads are waiting for a message (%(count)d); send or discard them first.")
            % {"count": waiting},
            code="too_many_pending_attachments",
        )
    row = store_upload(
        file,
        field_name=field_name,
        keep=lambda fields: MessageAttachment.objects.create(
            dialog_id=dialog_id, uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(
    *, uploader_id: int, attachment_ids: Sequence[int], dialog_id: int | None = None
) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no message took (only those waiting
    in ``dialog_id`` when it is given); their files go after the commit. Returns how many were deleted."""
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    waiting = MessageAttachment.objects.filter(pk__in=wanted, uploader_id=uploader_id, message__isnull=True)
    if dialog_id is not None:
        waiting = waiting.filter(dialog_id=dialog_id)
    with transaction.atomic():
        rows = list(waiting.select_for_update().values_list("pk", "storage_key", "thumbnail_key"))
        MessageAttachment.objects.filter(pk__in=[pk for pk, _key, _thumb in rows]).delete()
        for _pk, key, thumbnail in rows:
            transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)
    return len(rows)


# Uploads deleted per transaction by ``attachments_delete_orphans``.
ORPHAN_BATCH_SIZE = 100


def attachments_delete_orphans(
    *, older_than: datetime.timedelta | None = None, batch_size: int = ORPHAN_BATCH_SIZE
) -> int:
    """Delete uploads that no message took within ``older_than`` (DIALOG_UPLOAD_ORPHAN_HOURS by
    default), rows and files, ``batch_size`` at a time (``forum.uploads.delete_unclaimed``); returns
    how many went."""
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.DIALOG_UPLOAD_ORPHAN_HOURS))
    unclaimed = MessageAttachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    return delete_unclaimed(unclaimed, batch_size=batch_size)


# --- Blocks and privacy -------------------------------------------------------------------------------


def block_add(*, user_id: int, blocked_id: int) -> bool:
    """Block a member: they can no longer start a dialog with the user or write to them in a one-to-one
    dialog, and are never told. True when the block is new (then ``dialog.member_blocked`` is
    published). NotFound for no such member; ValidationFailed for oneself."""
    if blocked_id == user_id:
        raise ValidationFailed(_("You cannot block yourself."), code="block_self")
    if not selectors.valid_id(blocked_id) or not users_brief(user_ids=[blocked_id]):
        raise NotFound(_("There is no such member."))
    with transaction.atomic():
        _row, created = Block.objects.get_or_create(
            user_id=user_id, blocked_id=blocked_id, defaults={"created_at": timezone.now()}
        )
        if created:
            publish(MemberBlocked(user_id=user_id, blocked_id=blocked_id))
    return created


def block_remove(*, user_id: int, blocked_id: int) -> bool:
    """Lift a block; True when there was one."""
    if not selectors.valid_id(blocked_id):
        return False
    deleted, _kinds = Block.objects.filter(user_id=user_id, blocked_id=blocked_id).delete()
    return deleted > 0


def block_exists(*, user_id: int, blocked_id: int) -> bool:
    """Whether ``user_id`` has blocked ``blocked_id`` (for other apps that stop notifying)."""
    return selectors.block_exists(user_id=user_id, blocked_id=blocked_id)


def dialog_privacy_get(*, user_id: int) -> PrivacyRef:
    found = Privacy.objects.filter(user_id=user_id).values_list("followed_only", flat=True).first()
    return PrivacyRef(user_id=user_id, followed_only=bool(found))


def dialog_privacy_set(*, user_id: int, followed_only: bool) -> PrivacyRef:
    """Accept new dialogs from everyone, or only from the people one follows (and staff)."""
    Privacy.objects.update_or_create(user_id=user_id, defaults={"followed_only": followed_only})
    return PrivacyRef(user_id=user_id, followed_only=followed_only)


def dialog_settings_get(*, user_id: int) -> DialogSettingsRef:
    found = Privacy.objects.filter(user_id=user_id).values("followed_only", "enter_sends").first()
    return DialogSettingsRef(
        user_id=user_id,
        followed_only=bool(found and found["followed_only"]),
        enter_sends=bool(found and found["enter_sends"]),
    )


def dialog_settings_set(
    *, user_id: int, followed_only: bool | None = None, enter_sends: bool | None = None
) -> DialogSettingsRef:
    """Change the settings given (None leaves one as it is); the settings after the change."""
    changes = {
        name: value
        for name, value in (("followed_only", followed_only), ("enter_sends", enter_sends))
        if value is not None
    }
    if changes:
        Privacy.objects.update_or_create(user_id=user_id, defaults=changes)
    return dialog_settings_get(user_id=user_id)
