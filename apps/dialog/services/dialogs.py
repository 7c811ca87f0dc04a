"""Starting dialogs: one-to-one (found again when it exists) and group."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization.services import (
    require,
)
from apps.dialog import selectors
from apps.dialog.events import (
    DialogCreated,
)
from apps.dialog.models import (
    Dialog,
    Participant,
)
from apps.dialog.services._common import _check_group_size, _check_reachable, _clean_title, _paid
from apps.dialog.services.refs import DialogRef, _dialog_ref
from forum.bus import publish
from forum.errors import ValidationFailed

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
