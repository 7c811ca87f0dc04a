"""Reading an account, and refusing an action to a member whose address is not verified."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.authentication.services._common import Account, _account, _user
from forum.errors import Forbidden


def account_get(*, user_id: int) -> Account:
    return _account(_user(user_id))


def account_require_verified_email(*, user_id: int) -> None:
    """Refuse (403, ``email_unverified``) an action that needs a member we can reach by mail."""
    if not _user(user_id).email_verified:
        raise Forbidden(
            _(
                "Confirm your email address first: follow the link we sent you, "
                "or ask for a new one in your account settings."
            ),
            code="email_unverified",
        )
