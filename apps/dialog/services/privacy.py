"""Blocks and privacy: whom a member blocks, whom they accept dialogs from, their dialog settings."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.dialog import selectors
from apps.dialog.events import (
    MemberBlocked,
)
from apps.dialog.models import (
    Block,
    Privacy,
)
from apps.dialog.services.refs import DialogSettingsRef, PrivacyRef
from apps.user.services import users_brief
from forum.bus import publish
from forum.errors import NotFound, ValidationFailed

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
