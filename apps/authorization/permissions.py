"""The registry of permissions: every permission of the forum, its kind, and what each role gets.

Permissions are declared in code, here, in one place. A permission is one of three kinds:

- ``flag``: allowed or not (``thread.create``); the most generous value is ``True``.
- ``limit``: a number (``dialog.max_participants``); the most generous value is the largest, and
  ``None`` means unlimited, which beats any number.
- ``quota``: a number of uses per rolling period (``thread.create_per_day``), counted by the engine
  in the database; merged like a limit.

Each role (user, support, admin) has a value for every permission; guests (no account) have theirs.
Statuses grant values on top (stored in the status app's catalogue as ``{code: value}`` and validated
here); where a member holds several, the most generous value wins. A ban takes away every permission
not marked ``survives_ban`` (only reading survives).

Apps that land later may declare their own permissions with ``declare`` (through
``apps.authorization.services.permission_declare``) when their AppConfig is ready; the ones the brief
implies are declared below.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:  # the stubs are a development tool, not installed in production
    from django_stubs_ext import StrOrPromise

__all__ = [
    "DAY",
    "Permission",
    "PermissionKind",
    "PermissionValue",
    "Role",
    "declare",
    "denied_value",
    "get",
    "is_valid_value",
    "merge",
    "more_generous",
    "registered",
    "validate_values",
]

# A flag is a bool; a limit or a quota is a count, or None for "unlimited".
PermissionValue = bool | int | None

DAY = datetime.timedelta(days=1)


class Role(StrEnum):
    """What a member is to the forum. Staff (support, admin) also sign in to the Django admin."""

    USER = "user"
    SUPPORT = "support"
    ADMIN = "admin"


# From least to most powerful: the effective role of a member is the highest of those it has.
ROLE_ORDER = (Role.USER, Role.SUPPORT, Role.ADMIN)


class PermissionKind(StrEnum):
    FLAG = "flag"
    LIMIT = "limit"
    QUOTA = "quota"


@dataclass(frozen=True)
class Permission:
    """One permission and the value each kind of member gets without any status."""

    code: str
    kind: PermissionKind
    description: StrOrPromise
    guest: PermissionValue
    user: PermissionValue
    support: PermissionValue
    admin: PermissionValue
    # The rolling window of a quota; None for flags and limits.
    period: datetime.timedelta | None = None
    # Reading permissions survive a ban; everything else is taken away while it lasts.
    survives_ban: bool = False

    def __post_init__(self) -> None:
        if "." not in self.code:
            raise ValueError(f"permission code {self.code!r} must be '<area>.<what>'")
        if (self.kind is PermissionKind.QUOTA) != (self.period is not None):
            raise ValueError(f"{self.code}: a quota, and only a quota, has a period")
        if self.period is not None and self.period.total_seconds() < 1:
            raise ValueError(f"{self.code}: a quota's period lasts at least a second")
        for role_name in ("guest", "user", "support", "admin"):
            if not is_valid_value(self.kind, getattr(self, role_name)):
                raise ValueError(f"{self.code}: {role_name}'s value does not fit a {self.kind}")

    def value_for(self, role: Role | None) -> PermissionValue:
        """The value of a member of ``role`` without statuses; ``None`` as role means a guest."""
        if role is None:
            return self.guest
        value: PermissionValue = getattr(self, role.value)
        return value

    @classmethod
    def flag(
        cls,
        code: str,
        description: StrOrPromise,
        *,
        guest: bool = False,
        user: bool = False,
        support: bool | None = None,
        admin: bool = True,
        survives_ban: bool = False,
    ) -> Permission:
        """A flag; support gets what users get unless told otherwise, admins get it."""
        return cls(
            code=code,
            kind=PermissionKind.FLAG,
            description=description,
            guest=guest,
            user=user,
            support=user if support is None else support,
            admin=admin,
            survives_ban=survives_ban,
        )

    @classmethod
    def limit(
        cls,
        code: str,
        description: StrOrPromise,
        *,
        guest: int | None = 0,
        user: int | None = 0,
        support: int | bool | None = False,
        admin: int | None = None,
    ) -> Permission:
        """A limit; ``support=False`` (the default) means "what users get", admins are unlimited."""
        return cls(
            code=code,
            kind=PermissionKind.LIMIT,
            description=description,
            guest=guest,
            user=user,
            support=user if support is False else support,
            admin=admin,
        )

    @classmethod
    def quota(
        cls,
        code: str,
        description: StrOrPromise,
        *,
        period: datetime.timedelta,
        guest: int | None = 0,
        user: int | None = 0,
        support: int | bool | None = False,
        admin: int | None = None,
    ) -> Permission:
        """A quota over a rolling ``period``; support and admin defaults as for a limit."""
        return cls(
            code=code,
            kind=PermissionKind.QUOTA,
            description=description,
            guest=guest,
            user=user,
            support=user if support is False else support,
            admin=admin,
            period=period,
        )


def is_valid_value(kind: PermissionKind, value: object) -> bool:
    if kind is PermissionKind.FLAG:
        return isinstance(value, bool)
    if value is None:
        return True  # unlimited
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def denied_value(kind: PermissionKind) -> PermissionValue:
    """The value that grants nothing: what a ban leaves of a permission."""
    return False if kind is PermissionKind.FLAG else 0


def more_generous(kind: PermissionKind, first: PermissionValue, second: PermissionValue) -> PermissionValue:
    """The more generous of two values of one permission."""
    if kind is PermissionKind.FLAG:
        return bool(first) or bool(second)
    if first is None or second is None:
        return None  # unlimited wins
    return max(int(first), int(second))


def merge(kind: PermissionKind, values: Iterable[PermissionValue]) -> PermissionValue:
    """The most generous of several values of one permission (at least one value)."""
    iterator = iter(values)
    result = next(iterator)
    for value in iterator:
        result = more_generous(kind, result, value)
    return result


_REGISTRY: dict[str, Permission] = {}


def declare(*permissions: Permission) -> None:
    """Add permissions to the registry; declaring the same permission twice is harmless."""
    for permission in permissions:
        existing = _REGISTRY.get(permission.code)
        if existing is not None and existing != permission:
            raise ValueError(f"permission {permission.code} is already declared differently")
        _REGISTRY[permission.code] = permission


def get(code: str) -> Permission:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise LookupError(f"no permission {code!r} is declared") from None


def registered() -> list[Permission]:
    """Every declared permission, in code order."""
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


def validate_values(values: object) -> tuple[dict[str, PermissionValue], dict[str, list[str]]]:
    """Check a ``{code: value}`` mapping (a status's grants) against the registry.

    Returns the clean mapping and the problems by code (empty when all is well).
    """
    if not isinstance(values, Mapping):
        return {}, {"permissions": [str(_("Expected an object of permission codes and values."))]}
    clean: dict[str, PermissionValue] = {}
    problems: dict[str, list[str]] = {}
    for code, value in values.items():
        permission = _REGISTRY.get(code) if isinstance(code, str) else None
        if permission is None:
            problems[str(code)] = [str(_("There is no such permission."))]
        elif not is_valid_value(permission.kind, value):
            if permission.kind is PermissionKind.FLAG:
                problems[code] = [str(_("Expected true or false."))]
            else:
                problems[code] = [str(_("Expected a whole number, 0 or more, or null for no limit."))]
        else:
            clean[code] = value
    return clean, problems


# --- The permissions the brief implies ------------------------------------------------------------------

declare(
    # Reading: what survives a ban.
    Permission.flag(
        "forum.read",
        _("Read the public sections"),
        guest=True,
        user=True,
        survives_ban=True,
    ),
    Permission.flag(
        "forum.read_extended",
        _("Read the sections for Readers"),
        support=True,
        survives_ban=True,
    ),
    Permission.flag(
        "forum.read_exclusive",
        _("Read the exclusive sections"),
        support=True,
        survives_ban=True,
    ),
    # Taking part.
    Permission.flag("thread.create", _("Start threads"), user=True),
    Permission.quota("thread.create_per_day", _("New threads a day"), period=DAY, user=3, support=50),
    Permission.flag(
        "thread.skip_premoderation",
        _("Publish threads without premoderation"),
        support=True,
    ),
    Permission.flag("post.create", _("Reply in threads"), user=True),
    Permission.quota("post.create_per_day", _("Replies a day"), period=DAY, user=100, support=None),
    Permission.limit("post.attachments_max", _("Attachments on one post"), user=3, support=10),
    Permission.flag("reaction.add", _("React to posts"), user=True),
    Permission.flag("dialog.start", _("Start private dialogs"), user=True),
    Permission.quota("dialog.start_per_day", _("New dialogs a day"), period=DAY, user=10, support=None),
    Permission.limit(
        "dialog.max_participants",
        _("Participants in one dialog"),
        user=5,
        support=50,
    ),
    # Staff work.
    Permission.flag("thread.moderate", _("Moderate threads: approve, close, pin, move"), support=True),
    Permission.flag("member.ban", _("Ban and warn members"), support=True),
    Permission.flag("role.assign", _("Change members' roles"), support=False),
)
