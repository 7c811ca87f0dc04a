"""Published interface of the user app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service. ``users_brief`` is
that call already: ``POST /internal/v1/users/lookup`` (apps/user/api/internal.py) serves it to services
outside this process, signed as forum/internal_auth.py describes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from apps.user.selectors import user_rows_by_ids
from forum.errors import NotFound, ValidationFailed

__all__ = ["USERS_BRIEF_MAX", "UserBrief", "user_brief", "users_brief"]

# One lookup answers at most this many ids: a page of rows, never a whole table.
USERS_BRIEF_MAX = 500
# Ids outside PostgreSQL's bigint cannot name an account; filtering them keeps the query valid.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class UserBrief:
    """What another app or service may know of any account: who it is and whether it is active."""

    id: int
    username: str
    is_active: bool
    date_joined: datetime


def users_brief(*, user_ids: Collection[int]) -> list[UserBrief]:
    """The accounts among ``user_ids``, in the order first asked, in one query; unknown ids are left out."""
    wanted = list(dict.fromkeys(user_id for user_id in user_ids if 0 < user_id <= _MAX_ID))
    if len(set(user_ids)) > USERS_BRIEF_MAX:
        raise ValidationFailed(
            _("Ask for at most %(count)d users at once.") % {"count": USERS_BRIEF_MAX},
            fields={"ids": [_("Too many ids.")]},
        )
    found = {row[0]: UserBrief(*row) for row in user_rows_by_ids(user_ids=wanted)}
    return [found[user_id] for user_id in wanted if user_id in found]


def user_brief(*, user_id: int) -> UserBrief:
    """One account; ``NotFound`` when no account has this id."""
    briefs = users_brief(user_ids=[user_id])
    if not briefs:
        raise NotFound(_("No user has this id."))
    return briefs[0]
