"""Subscribers of the authorization app to other apps' events."""

from __future__ import annotations

from apps.authentication.events import PasswordChanged
from apps.authorization import services
from forum.bus import subscribe


@subscribe(PasswordChanged, name="authorization.on_password_changed")
def on_password_changed(event: PasswordChanged) -> None:
    """A new password ends every API sign-in, as it ends the other site sessions (their hash is stale).

    Revoking is idempotent, so a redelivered event changes nothing more.
    """
    services.token_families_revoke(user_id=event.user_id, reason="password_changed")
