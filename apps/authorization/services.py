"""Published interface of the authorization app: roles, the permission engine and quotas.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

The engine combines, for one member: the role (user, support, admin), the statuses the member holds
(pushed here by the status app with ``access_statuses_set``), and a ban (recorded by the moderation app
with ``access_ban_set``). Everything it needs about a member is in one row of this app, read together
with the account in one query; inside ``permission_scope`` (opened for every request by
``PermissionScopeMiddleware``) that answer is kept, so a request pays at most one query for its
permission checks, however many it makes. Quotas are counted in the database (``quotas.py``).

It also owns where a member is signed in: the API's JWT pairs, grouped in token families that rotate
and are revoked as one (``tokens.py``), and the site's sessions, which a member can list and end
(``sessions.py``); docs/tokens.md tells the whole story.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import logging
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as ModelPermission
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization import permissions as registry
from apps.authorization import quotas, selectors, sessions, tokens
from apps.authorization.events import RoleAssigned
from apps.authorization.models import MemberAccess
from apps.authorization.permissions import Permission, PermissionKind, PermissionValue, Role
from apps.authorization.sessions import TOUCH_INTERVAL, TOUCHED_KEY, CurrentSession, SessionRow
from apps.authorization.tokens import AccessGrant, TokenPair, TokenRejected
from forum import member_cache
from forum.bus import publish
from forum.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from forum.realtime import disconnect_user

__all__ = [
    "SUPPORT_GROUP_NAME",
    "TOUCHED_KEY",
    "TOUCH_INTERVAL",
    "AccessGrant",
    "AccessRestriction",
    "ClientInfo",
    "CurrentSession",
    "Permission",
    "PermissionInfo",
    "PermissionKind",
    "PermissionSet",
    "PermissionValue",
    "QuotaState",
    "QuotaUse",
    "Role",
    "SessionRow",
    "StatusPermissions",
    "TokenPair",
    "TokenRejected",
    "access_ban_lift",
    "access_ban_set",
    "access_restrictions_set",
    "access_statuses_set",
    "access_token_grant",
    "access_token_member",
    "has_perm",
    "limit",
    "permission_catalogue",
    "permission_declare",
    "permission_key_for",
    "permission_scope",
    "permission_set_key",
    "permission_values_validate",
    "permissions_for",
    "permissions_for_many",
    "quota_consume",
    "quota_refund",
    "quota_remaining",
    "quota_states",
    "require",
    "role_assign",
    "role_of",
    "roles_for",
    "session_end",
    "sessions_end_all",
    "sessions_end_others",
    "sessions_list",
    "signin_complete",
    "support_group_sync",
    "token_credential",
    "token_families_revoke",
    "token_family_signout",
    "token_pair_issue",
    "token_refresh",
    "token_signout",
    "web_session_touch",
]

logger = logging.getLogger(__name__)

# The Django auth group that gives members of the support role their (limited) model permissions
# in the Django admin.
SUPPORT_GROUP_NAME = "Support"
# What support staff may do in the Django admin: look people and statuses up, grant and revoke
# statuses. Apps that land later add theirs here (tickets, reports, the moderation queue).
SUPPORT_MODEL_PERMISSIONS = (
    "authentication.view_user",
    "authorization.view_memberaccess",
    "status.view_status",
    "status.view_statusgrant",
    "status.add_statusgrant",
    "status.change_statusgrant",
    # The moderation queue and thread tools: look at forums, threads and posts; approve, reject, close,
    # pin and move threads through the admin actions (which call the thread app's services).
    "thread.view_forum",
    "thread.view_thread",
    "thread.change_thread",
    "thread.view_post",
    "thread.change_post",
    # Notifications: look up a member's notification settings and notifications (read-only).
    "notification.view_membersettings",
    "notification.view_notification",
    # Support: work tickets and reports (replies, notes, state, priority, assignee go through the
    # support app's services), keep the canned replies; topics and SLA targets are the admins'.
    "support.view_ticket",
    "support.change_ticket",
    "support.view_ticketmessage",
    "support.view_report",
    "support.view_helptopic",
    "support.view_slatarget",
    "support.view_cannedreply",
    "support.add_cannedreply",
    "support.change_cannedreply",
    "support.view_evidenceview",
    # Moderation: read the staff action log; issue and revoke warnings (through the moderation app's
    # services); look at warning types, escalation rules and the sanctions in force. Bans are the admins'.
    "forum_admin.view_actionlogentry",
    "forum_admin.view_memberwarning",
    "forum_admin.add_memberwarning",
    "forum_admin.change_memberwarning",
    "forum_admin.view_warningtype",
    "forum_admin.view_escalationrule",
    "forum_admin.view_restriction",
)


# --- Data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusPermissions:
    """One status grant as the engine sees it: the values it grants and when (pushed by the status app)."""

    status_code: str
    values: Mapping[str, PermissionValue]
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None  # None: permanent


@dataclass(frozen=True)
class PermissionSet:
    """A member's effective permissions at one moment: role, ban and statuses combined."""

    user_id: int | None  # None: a guest
    role: Role | None  # None: a guest
    banned: bool
    banned_until: datetime.datetime | None
    statuses: tuple[str, ...]  # codes of the statuses granting now
    values: Mapping[str, PermissionValue]

    def allows(self, permission: str) -> bool:
        """A flag that is set, or a limit or quota above zero (None is unlimited)."""
        value = self.values[registry.get(permission).code]
        return value is None or bool(value)


@dataclass(frozen=True)
class PermissionInfo:
    code: str
    kind: PermissionKind
    description: str
    period_seconds: int | None
    survives_ban: bool


@dataclass(frozen=True)
class QuotaState:
    """How much of a quota a member has left; ``limit`` None means unlimited."""

    permission: str
    limit: int | None
    used: int
    remaining: int | None
    # When the next used unit comes back (the rolling window moves past it); None if none is used.
    resets_at: datetime.datetime | None
    period_seconds: int


@dataclass(frozen=True)
class QuotaUse:
    """One use taken from a quota; ``use_id`` gives it back with ``quota_refund`` (empty: nothing to undo)."""

    use_id: str
    state: QuotaState


# --- The registry -------------------------------------------------------------------------------------


def permission_declare(*permissions: Permission) -> None:
    """Declare permissions of an app that lands later (call it from its AppConfig.ready)."""
    registry.declare(*permissions)


def permission_catalogue() -> list[PermissionInfo]:
    return [
        PermissionInfo(
            code=permission.code,
            kind=permission.kind,
            description=str(permission.description),
            period_seconds=None if permission.period is None else int(permission.period.total_seconds()),
            survives_ban=permission.survives_ban,
        )
        for permission in registry.registered()
    ]


def permission_values_validate(*, values: object) -> dict[str, PermissionValue]:
    """A status's ``{permission: value}`` checked against the registry; raises ValidationFailed."""
    clean, problems = registry.validate_values(values)
    if problems:
        raise ValidationFailed(_("Some permissions are not valid."), fields=problems)
    return clean


# --- The engine ---------------------------------------------------------------------------------------

# The permission sets loaded in the current scope (a request), by member id.
_scope: contextvars.ContextVar[dict[int, PermissionSet] | None] = contextvars.ContextVar(
    "permission_scope", default=None
)


@contextmanager
def permission_scope() -> Iterator[None]:
    """Keep each member's permissions once loaded until the block ends (a request, a task).

    Inside, any number of checks for a member costs one query. A nested scope shares the outer one.
    """
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


# The member's facts, kept in Redis per member (forum.member_cache) under the scope of their account and
# access: moved by ``_forget`` after every change here, and by every save of the account (the
# authentication app), whose flags (active, staff, superuser) are among the facts.
FACTS_PART = "authorization.facts"
member_cache.register(FACTS_PART, member_cache.MEMBER_SCOPE, member_cache.ALL_MEMBERS_SCOPE)


def _forget(user_id: int) -> None:
    """Drop a member's kept permissions after a change, so that the rest of the scope sees it, and
    every other request once the change commits (at once when it is committed already)."""
    memo = _scope.get()
    if memo is not None:
        memo.pop(user_id, None)
    member_cache.changed(member_cache.MEMBER_SCOPE, [user_id])


def _role_from_flags(*, is_staff: bool, is_superuser: bool) -> Role:
    if is_superuser:
        return Role.ADMIN
    if is_staff:
        return Role.SUPPORT
    return Role.USER


def _higher(first: Role, second: Role) -> Role:
    return max(first, second, key=registry.ROLE_ORDER.index)


def _parse_time(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    return datetime.datetime.fromisoformat(str(value))


def _guest_set() -> PermissionSet:
    values = {permission.code: permission.guest for permission in registry.registered()}
    return PermissionSet(
        user_id=None,
        role=None,
        banned=False,
        banned_until=None,
        statuses=(),
        values=MappingProxyType(values),
    )


def _effective_role(facts: selectors.AccessFacts | selectors.RoleFacts) -> Role:
    # The stored role, raised to what the account's admin flags imply: a superuser made with
    # `createsuperuser` is an admin without ever being given the role here.
    flag_role = _role_from_flags(is_staff=facts.is_staff, is_superuser=facts.is_superuser)
    return _higher(Role(facts.role), flag_role) if facts.role else flag_role


def _evaluate(facts: selectors.AccessFacts, now: datetime.datetime) -> PermissionSet:
    role = _effective_role(facts)
    permissions = registry.registered()
    values: dict[str, PermissionValue] = {
        permission.code: permission.value_for(role) for permission in permissions
    }

    holding: list[str] = []
    for grant in facts.statuses:
        starts_at = _parse_time(grant.get("starts_at"))
        ends_at = _parse_time(grant.get("ends_at"))
        if (starts_at is not None and starts_at > now) or (ends_at is not None and ends_at <= now):
            continue
        holding.append(str(grant.get("status", "")))
        for code, value in dict(grant.get("values") or {}).items():
            try:
                permission = registry.get(code)
            except LookupError:
                continue  # a permission removed from the code since the status was defined
            if registry.is_valid_value(permission.kind, value):
                values[code] = registry.more_generous(permission.kind, values[code], value)

    # Restrictions (escalations of warnings) take named permissions away until their end.
    for restriction in facts.restrictions:
        ends_at = _parse_time(restriction.get("ends_at"))
        if ends_at is not None and ends_at <= now:
            continue
        for code in restriction.get("denied") or ():
            if code in values:
                values[code] = registry.denied_value(registry.get(code).kind)

    banned = facts.banned and (facts.banned_until is None or facts.banned_until > now)
    if banned:
        for permission in permissions:
            if not permission.survives_ban:
                values[permission.code] = registry.denied_value(permission.kind)
    return PermissionSet(
        user_id=facts.user_id,
        role=role,
        banned=banned,
        banned_until=facts.banned_until if banned else None,
        statuses=tuple(sorted(set(holding))),
        values=MappingProxyType(values),
    )


def permissions_for(*, user_id: int | None) -> PermissionSet:
    """The member's effective permissions (a guest's when ``user_id`` is None or the account is gone
    or deactivated). At most one query, none when already loaded in this scope."""
    if user_id is None:
        return _guest_set()
    memo = _scope.get()
    if memo is not None:
        kept = memo.get(user_id)
        if kept is not None:
            return kept
    facts = member_cache.read(FACTS_PART, user_id, lambda: selectors.member_access_facts(user_id=user_id))
    # A deactivated account is treated as no account at all.
    loaded = _guest_set() if facts is None or not facts.is_active else _evaluate(facts, timezone.now())
    if memo is not None:
        memo[user_id] = loaded
    return loaded


def permissions_for_many(*, user_ids: Collection[int]) -> dict[int, PermissionSet]:
    """The effective permissions of many members at once, in ONE query whatever their number (for
    fan-outs such as notifying a thread's thousand watchers). A missing or deactivated account gets
    a guest's set, as in ``permissions_for``; sets kept in the current scope are reused."""
    memo = _scope.get()
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    found: dict[int, PermissionSet] = {}
    if memo is not None:
        found = {user_id: memo[user_id] for user_id in wanted if user_id in memo}
    missing = wanted - set(found)
    if missing:
        now = timezone.now()
        facts = selectors.members_access_facts(user_ids=missing)
        guest = _guest_set()
        for user_id in missing:
            member = facts.get(user_id)
            loaded = guest if member is None or not member.is_active else _evaluate(member, now)
            found[user_id] = loaded
            if memo is not None:
                memo[user_id] = loaded
    return found


def permission_set_key(held: PermissionSet) -> str:
    """A short stable hash of what ``held`` allows: the role, the ban and every permission's value,
    never who holds it. Two members with the same effective permissions get the same key, so a part of
    a page built for one may be served to the other (forum.versioned_cache); any change of a value,
    a role or a ban (a status granted or run out, say) gives another key."""
    values = sorted((code, repr(value)) for code, value in held.values.items())
    facts = repr((held.role.value if held.role is not None else None, held.banned, values))
    return hashlib.sha256(facts.encode()).hexdigest()[:24]


def permission_key_for(*, user_id: int | None) -> str:
    """``permission_set_key`` of the member's (a guest's for None) effective permissions now; the
    same query as ``permissions_for`` (none when already loaded in this scope)."""
    return permission_set_key(permissions_for(user_id=user_id))


def has_perm(*, user_id: int | None, permission: str) -> bool:
    """Whether the member may: a flag that is set, or a limit or quota that is not zero."""
    return permissions_for(user_id=user_id).allows(permission)


def _refusal(held: PermissionSet, permission: Permission) -> Forbidden:
    if held.role is None:
        return Forbidden(_("Sign in to do this."), code="not_authenticated")
    if held.banned and not permission.survives_ban:
        if held.banned_until is not None:
            message = _("Your account is banned until %(until)s UTC: you can read, but not take part.") % {
                "until": held.banned_until.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M")
            }
        else:
            message = _("Your account is banned: you can read, but not take part.")
        return Forbidden(message, code="banned")
    return Forbidden(
        _("You do not have the permission “%(permission)s”.") % {"permission": permission.description}
    )


def require(*, user_id: int | None, permission: str) -> None:
    """Raise Forbidden (403) unless the member has the permission."""
    held = permissions_for(user_id=user_id)
    if not held.allows(permission):
        raise _refusal(held, registry.get(permission))


def limit(*, user_id: int | None, permission: str) -> int | None:
    """The member's value of a limit (or quota) permission; None means unlimited."""
    definition = registry.get(permission)
    if definition.kind is PermissionKind.FLAG:
        raise TypeError(f"{permission} is a flag, not a limit")
    value = permissions_for(user_id=user_id).values[permission]
    return None if value is None else int(value)


# --- Quotas -------------------------------------------------------------------------------------------


def _quota_definition(permission: str) -> Permission:
    definition = registry.get(permission)
    if definition.kind is not PermissionKind.QUOTA or definition.period is None:
        raise TypeError(f"{permission} is not a quota")
    return definition


def _state(definition: Permission, value: int | None, counted: quotas.Count | None) -> QuotaState:
    assert definition.period is not None
    used = counted.used if counted is not None else 0
    return QuotaState(
        permission=definition.code,
        limit=value,
        used=used,
        remaining=None if value is None else max(0, value - used),
        resets_at=counted.frees_at if counted is not None else None,
        period_seconds=int(definition.period.total_seconds()),
    )


def _quota_value(held: PermissionSet, permission: str) -> int | None:
    value = held.values[permission]
    return None if value is None else int(value)


def quota_remaining(*, user_id: int | None, permission: str) -> QuotaState:
    """How much of a quota the member has left and when the next use comes back (for the composer)."""
    definition = _quota_definition(permission)
    held = permissions_for(user_id=user_id)
    value = _quota_value(held, permission)
    if user_id is None or value is None or definition.period is None:
        return _state(definition, value, None)
    counted = quotas.count(user_id=user_id, permission=permission, window=definition.period, limit=value)
    return _state(definition, value, counted)


def quota_states(*, user_id: int | None) -> list[QuotaState]:
    """Every quota of the member, in code order."""
    return [
        quota_remaining(user_id=user_id, permission=permission.code)
        for permission in registry.registered()
        if permission.kind is PermissionKind.QUOTA
    ]


def quota_consume(*, user_id: int | None, permission: str) -> QuotaUse:
    """Take one use of a quota, or refuse: RateLimited (429, with Retry-After) when it is used up,
    Forbidden (403) when the member has none at all (a guest, a ban, a zero quota)."""
    definition = _quota_definition(permission)
    held = permissions_for(user_id=user_id)
    value = _quota_value(held, permission)
    if user_id is None or value == 0:
        raise _refusal(held, definition)
    if value is None or definition.period is None:
        return QuotaUse(use_id="", state=_state(definition, None, None))
    use_id = uuid.uuid4().hex
    counted = quotas.count(
        user_id=user_id, permission=permission, window=definition.period, limit=value, use_id=use_id
    )
    state = _state(definition, value, counted)
    if not counted.taken:
        now = timezone.now()
        resets_at = state.resets_at or now + definition.period
        retry_after = max(1, int((resets_at - now).total_seconds() + 0.999))
        message = _("Limit reached: “%(what)s” allows %(limit)d. Try again after %(time)s UTC.") % {
            "what": definition.description,
            "limit": value,
            "time": resets_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }
        refusal = RateLimited(message, retry_after=retry_after)
        # The moment itself, for clients that would rather not add Retry-After to their clock.
        refusal.headers["X-Quota-Resets-At"] = resets_at.astimezone(datetime.UTC).isoformat()
        raise refusal
    return QuotaUse(use_id=use_id, state=state)


def quota_refund(*, user_id: int, permission: str, use_id: str) -> None:
    """Give back a use whose action did not happen (its transaction rolled back, say)."""
    _quota_definition(permission)
    if not use_id:
        return
    quotas.give_back(user_id=user_id, permission=permission, use_id=use_id)


# --- Roles --------------------------------------------------------------------------------------------


def role_of(*, user_id: int) -> Role:
    """The member's effective role (a missing or deactivated account counts as a plain user)."""
    return permissions_for(user_id=user_id).role or Role.USER


def roles_for(*, user_ids: Collection[int]) -> dict[int, Role]:
    """The effective role of each of many members in ONE query whatever their number (the author
    cards of a page of posts), as ``role_of`` answers it: a missing or deactivated account is a plain
    user. Permissions already loaded in the current scope answer without a query; the permissions
    themselves are not evaluated, since only the role is asked for."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    memo = _scope.get() or {}
    found = {user_id: memo[user_id].role or Role.USER for user_id in wanted if user_id in memo}
    missing = wanted - set(found)
    if missing:
        facts = selectors.members_role_facts(user_ids=missing)
        for user_id in missing:
            member = facts.get(user_id)
            found[user_id] = _effective_role(member) if member is not None and member.is_active else Role.USER
    return found


def support_group_sync() -> int:
    """Make the support group exist with its model permissions; returns how many it has."""
    group, _created = Group.objects.get_or_create(name=SUPPORT_GROUP_NAME)
    wanted = [name.split(".", 1) for name in SUPPORT_MODEL_PERMISSIONS]
    found = [
        permission
        for permission in ModelPermission.objects.filter(
            codename__in=[codename for _label, codename in wanted]
        ).select_related("content_type")
        if [permission.content_type.app_label, permission.codename] in wanted
    ]
    group.permissions.add(*found)
    return group.permissions.count()


def role_assign(*, user_id: int, role: Role | str, assigned_by: int | None = None) -> Role:
    """Give a member a role, and the Django admin access that goes with it.

    admin: ``is_staff`` and ``is_superuser`` (everything in the Django admin); support: ``is_staff``
    and the support group's model permissions; user: neither. Publishes ``authorization.role_assigned``.
    """
    try:
        new_role = Role(role)
    except ValueError:
        raise ValidationFailed(
            _("Unknown role."), fields={"role": [_("Choose user, support or admin.")]}
        ) from None
    user_model = get_user_model()
    with transaction.atomic():
        account = (
            user_model.objects.select_for_update()
            .filter(pk=user_id)
            .values("is_staff", "is_superuser")
            .first()
        )
        if account is None:
            raise NotFound(_("There is no such member."))
        stored = MemberAccess.objects.filter(user_id=user_id).values_list("role", flat=True).first()
        flag_role = _role_from_flags(is_staff=account["is_staff"], is_superuser=account["is_superuser"])
        previous = _higher(Role(stored), flag_role) if stored else flag_role

        user_model.objects.filter(pk=user_id).update(
            is_staff=new_role is not Role.USER, is_superuser=new_role is Role.ADMIN
        )
        MemberAccess.objects.update_or_create(user_id=user_id, defaults={"role": new_role.value})
        group, _created = Group.objects.get_or_create(name=SUPPORT_GROUP_NAME)
        memberships = user_model.groups.through.objects
        if new_role is Role.SUPPORT:
            memberships.get_or_create(user_id=user_id, group_id=group.pk)
        else:
            memberships.filter(user_id=user_id, group_id=group.pk).delete()
        if previous is not new_role:
            publish(
                RoleAssigned(
                    user_id=user_id,
                    role=new_role.value,
                    previous_role=previous.value,
                    assigned_by=assigned_by,
                )
            )
    _forget(user_id)
    return new_role


# --- What other apps feed in --------------------------------------------------------------------------


def _require_account(user_id: int) -> None:
    if not get_user_model().objects.filter(pk=user_id).exists():
        raise NotFound(_("There is no such member."))


def access_statuses_set(*, user_id: int, grants: Sequence[StatusPermissions]) -> None:
    """Record the member's current status grants (the status app calls it after every change).

    ``grants`` replaces what was recorded: pass every grant that is running or still to start.
    Unknown permissions or values that do not fit are dropped (and logged), not granted.
    """
    _require_account(user_id)
    entries = []
    for grant in grants:
        clean, problems = registry.validate_values(dict(grant.values))
        if problems:
            logger.warning(
                "status grants permissions the engine does not know; ignored",
                extra={"status": grant.status_code, "problems": problems},
            )
        entries.append(
            {
                "status": grant.status_code,
                "values": clean,
                "starts_at": grant.starts_at.isoformat(),
                "ends_at": None if grant.ends_at is None else grant.ends_at.isoformat(),
            }
        )
    MemberAccess.objects.update_or_create(user_id=user_id, defaults={"statuses": entries})
    _forget(user_id)


def access_ban_set(*, user_id: int, until: datetime.datetime | None = None) -> None:
    """Record a ban (the moderation app calls it): until it ends, the member may only read.

    ``until`` None: until lifted.
    """
    if until is not None and timezone.is_naive(until):
        raise ValidationFailed(
            _("The end of a ban needs a time zone."), fields={"until": [_("Give a time zone.")]}
        )
    _require_account(user_id)
    MemberAccess.objects.update_or_create(user_id=user_id, defaults={"banned": True, "banned_until": until})
    _forget(user_id)


def access_ban_lift(*, user_id: int) -> None:
    """Lift a member's ban (nothing happens when there is none)."""
    MemberAccess.objects.filter(user_id=user_id).update(banned=False, banned_until=None)
    _forget(user_id)


@dataclass(frozen=True)
class AccessRestriction:
    """Permissions taken from a member until ``ends_at`` (None: until lifted), such as an escalation's
    "no posting for 3 days". ``code`` names it for the member's permission page."""

    code: str
    denied: tuple[str, ...]
    ends_at: datetime.datetime | None = None


def access_restrictions_set(*, user_id: int, restrictions: Sequence[AccessRestriction]) -> None:
    """Record the member's running restrictions (the moderation app calls it after every change),
    replacing what was recorded. Unknown permissions are refused: a typo must not silently restrict
    nothing."""
    _require_account(user_id)
    known = {permission.code for permission in registry.registered()}
    entries = []
    for restriction in restrictions:
        unknown = [code for code in restriction.denied if code not in known]
        if unknown:
            raise ValidationFailed(
                _("Unknown permissions: %(codes)s") % {"codes": ", ".join(unknown)},
                fields={"denied": [_("Unknown permission.")]},
            )
        if restriction.ends_at is not None and timezone.is_naive(restriction.ends_at):
            raise ValidationFailed(_("The end of a restriction needs a time zone."))
        entries.append(
            {
                "code": restriction.code,
                "denied": list(restriction.denied),
                "ends_at": None if restriction.ends_at is None else restriction.ends_at.isoformat(),
            }
        )
    MemberAccess.objects.update_or_create(user_id=user_id, defaults={"restrictions": entries})
    _forget(user_id)


# --- Where a member is signed in: API tokens and site sessions ----------------------------------------


@dataclass(frozen=True)
class ClientInfo:
    """The client of a sign-in, as the member's list of sessions shows it."""

    ip: str
    device: str


def signin_complete(*, user_id: int, client: ClientInfo) -> TokenPair:
    """The step after a complete sign-in: the password alone, or the password and then the second
    factor (the token API asks ``authentication.services.two_factor_required`` first and answers a
    challenge instead of calling this until the code is right)."""
    return token_pair_issue(user_id=user_id, client=client)


def token_pair_issue(*, user_id: int, client: ClientInfo) -> TokenPair:
    """A new token family for a member whose sign-in is complete, with its first access/refresh pair."""
    return tokens.pair_issue(user_id=user_id, device=client.device, ip=client.ip or None)


def token_refresh(*, refresh: str, client: ClientInfo) -> TokenPair:
    """Rotate: a new pair for the family's newest refresh token. TokenRejected (401) otherwise, with the
    code ``token_reused`` when an older one came back, which revokes the whole family."""
    return tokens.pair_rotate(refresh=refresh, ip=client.ip or None)


def token_signout(*, refresh: str) -> None:
    """Sign out the family of a refresh token (its refresh and access tokens stop working).

    An expired refresh token is accepted and changes nothing: its family is already unusable.
    """
    grant = tokens.family_of_refresh(refresh)
    if grant is not None:
        tokens.family_revoke(family_id=grant.family_id, user_id=grant.user_id, reason="signout")


def token_family_signout(*, user_id: int, family_id: uuid.UUID) -> None:
    """Sign out the family an access token belongs to (a sign-out without the refresh token)."""
    tokens.family_revoke(family_id=family_id, user_id=user_id, reason="signout")


def token_families_revoke(*, user_id: int, reason: str) -> int:
    """Revoke every token family of a member (after a password change, say); how many were on."""
    return tokens.families_revoke(user_id=user_id, reason=reason)


def access_token_grant(*, token: str) -> AccessGrant | None:
    """Whose valid access token this is, and of which sign-in; None for anything else (expired, revoked,
    not ours)."""
    try:
        _user, grant = tokens.access_user(token)
    except TokenRejected:
        return None
    return grant


def token_credential(*, family_id: uuid.UUID) -> str:
    """The credential of the WebSockets an API sign-in (token family) opened: what
    ``forum.realtime.disconnect_credential`` takes to close them."""
    return tokens.family_credential(family_id)


def access_token_member(*, token: str) -> int | None:
    """The member id of a valid access token whose family is on; None for anything else."""
    grant = access_token_grant(token=token)
    return None if grant is None else grant.user_id


def web_session_touch(
    *, user_id: int, session_key: str, device: str, ip: str, now: datetime.datetime
) -> None:
    """Record that a site session is in use (``SessionActivityMiddleware`` calls it once a minute)."""
    sessions.session_touch(user_id=user_id, session_key=session_key, device=device, ip=ip or None, now=now)


def sessions_list(*, user_id: int, current: CurrentSession) -> list[SessionRow]:
    """Where the member is signed in now: site sessions and API sign-ins, the asking one first."""
    return sessions.sessions_of(user_id=user_id, current=current)


def session_end(*, user_id: int, session_id: uuid.UUID, current: CurrentSession) -> bool:
    """End one of the member's sessions; whether it was ``current`` (the caller then signs itself out).
    NotFound (404) for any id that is not one of theirs."""
    return sessions.session_end(user_id=user_id, session_id=session_id, current=current)


def sessions_end_others(*, user_id: int, current: CurrentSession) -> int:
    """End every session of the member but ``current``; how many were ended."""
    return sessions.sessions_end_others(user_id=user_id, current=current)


def sessions_end_all(*, user_id: int) -> int:
    """End every session and token family of the member and close all their sockets (a full ban);
    how many sessions and families were ended."""
    with transaction.atomic():
        ended = sessions.sessions_end_all(user_id=user_id)
        # Sockets opened by a session the activity middleware never recorded close too.
        disconnect_user(user_id, on_commit=True)
    return ended
