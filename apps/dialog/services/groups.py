"""Groups: the owner adds and removes participants and renames the group; members leave."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.dialog import selectors
from apps.dialog.events import (
    DialogParticipantsChanged,
    DialogRenamed,
)
from apps.dialog.models import (
    Dialog,
    MessageAttachment,
    Participant,
)
from apps.dialog.services._common import (
    _check_group_size,
    _check_reachable,
    _clean_title,
    _locked_dialog_of,
    _unread_changed,
)
from apps.dialog.services.refs import DialogRef, _dialog_ref
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound
from forum.uploads import delete_upload

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
    _unread_changed([user_id])
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
        renamed = dialog.title != title
        if renamed:
            dialog.title = title
            dialog.save(update_fields=["title"])
        members = selectors.participant_ids(dialog_id=dialog.pk)
        if renamed:
            publish(
                DialogRenamed(dialog_id=dialog.pk, actor_id=owner_id, title=title, participant_ids=members)
            )
    return _dialog_ref(dialog, members, created=False)
