"""Checks and locks that several concerns of the dialog services share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import (
    Role,
    limit,
    permissions_for,
    quota_consume,
    quota_refund,
)
from apps.dialog import selectors
from apps.dialog.models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Dialog,
    Participant,
)
from apps.user.services import follows, users_brief
from forum import member_cache
from forum.errors import Forbidden, NotFound, ValidationFailed

# --- The header's badge ---------------------------------------------------------------------------------

# How many of the member's dialogs hold unread messages, kept per member in Redis (forum.member_cache):
# every change of a participant's unread count moves the scope of that participant in its transaction.
UNREAD_PART = "dialog.unread"
UNREAD_SCOPE = "dialog-unread:{id}"
member_cache.register(UNREAD_PART, UNREAD_SCOPE)


def _unread_changed(user_ids: Iterable[int]) -> None:
    """The badges of ``user_ids`` change with the current transaction."""
    member_cache.changed(UNREAD_SCOPE, user_ids)


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
