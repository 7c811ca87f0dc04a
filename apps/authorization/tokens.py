"""Token families: issuing, rotating, checking and revoking the API's JWT pairs (simplejwt signs them).

A sign-in starts a family; each refresh issues a new pair in the same family and makes the new
refresh token the only one the family accepts (``current_jti``). A refresh token of the family that
comes back after it was rotated was copied: the whole family is revoked, and the access tokens that
carry its id (claim ``fam``) are refused from then on. Checking an access token costs one query,
which loads the family and the account together (it replaces simplejwt's own account query).

A family also keeps the account's password stamp of when it started (``password_stamp``, Django's
session hash): a new password refuses its tokens at once, in the request that changed it, before the
``authentication.password_changed`` handler marks the families revoked. Revoking a family closes the
WebSockets it opened (``forum.realtime.disconnect_credential``) before the request that revoked it
answers.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from apps.authorization.models import TokenFamily
from forum.realtime import disconnect_credential

logger = logging.getLogger(__name__)

FAMILY_CLAIM = "fam"
USER_CLAIM = "user_id"
# The family's "last seen" is written at most this often by access-token checks: a write per request
# would cost more than the list of sessions is worth.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)
_CHALLENGE = 'Bearer realm="api", error="invalid_token"'


class TokenRejected(Exception):
    """A token that is malformed, expired, revoked or reused: 401, with ``code`` and WWW-Authenticate.

    Not an ``ApplicationError`` on purpose: DRF loads the authentication classes (which use this
    module) while it defines ``APIView``, so nothing here may import ``rest_framework.views``, as
    ``forum.errors`` does. The API answers it itself (``api/tokens.py``, ``api/authentication.py``),
    in the same error shape.
    """

    status = 401

    def __init__(self, message: str, *, code: str = "token_not_valid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.headers = {"WWW-Authenticate": _CHALLENGE}


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime.datetime
    refresh_expires_at: datetime.datetime
    family_id: uuid.UUID


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token says: whose it is, which sign-in (family) it belongs to and, for an
    access token, when it expires."""

    user_id: int
    family_id: uuid.UUID
    expires_at: datetime.datetime | None = None


def family_credential(family_id: uuid.UUID) -> str:
    """The credential of the WebSockets a family's access cookie opened (``SocketIdentity``)."""
    return f"token-family:{family_id}"


def _password_stamp(user: Any) -> str:
    """What a family remembers of the account's password: the hash Django's sessions carry too."""
    stamp: str = user.get_session_auth_hash()
    return stamp


def _stamp_matches(family: TokenFamily) -> bool:
    # A family from before stamps were kept has none; the migration gave every family one.
    return not family.password_stamp or constant_time_compare(
        family.password_stamp, _password_stamp(family.user)
    )


def _lifetime(name: str) -> datetime.timedelta:
    # Read at each issue (not simplejwt's class attributes, fixed at import), so settings changes apply.
    lifetime: datetime.timedelta = settings.SIMPLE_JWT[name]
    return lifetime


def _expiry(token: Token) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(token["exp"]), tz=datetime.UTC)


def _new_pair(user_id: int, family_id: uuid.UUID) -> tuple[RefreshToken, AccessToken]:
    refresh = RefreshToken()
    refresh.set_exp(lifetime=_lifetime("REFRESH_TOKEN_LIFETIME"))
    refresh[USER_CLAIM] = str(user_id)
    refresh[FAMILY_CLAIM] = str(family_id)
    access = refresh.access_token  # copies user_id and fam, with a jti of its own
    access.set_exp(from_time=refresh.current_time, lifetime=_lifetime("ACCESS_TOKEN_LIFETIME"))
    return refresh, access


def _pair(refresh: RefreshToken, access: AccessToken, family_id: uuid.UUID) -> TokenPair:
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_at=_expiry(access),
        refresh_expires_at=_expiry(refresh),
        family_id=family_id,
    )


def _decode(kind: type[Token], raw: str) -> tuple[int, uuid.UUID, str, datetime.datetime]:
    """(user id, family id, jti, expiry) of a token of ``kind`` whose signature, expiry and type are
    right."""
    try:
        token = kind(raw)  # type: ignore[arg-type]  # simplejwt's stubs say bytes; it takes str too
    except ExpiredTokenError:
        raise TokenRejected(_("The token has expired."), code="token_expired") from None
    except TokenError:
        raise TokenRejected(_("The token is not valid.")) from None
    try:
        user_id = int(token[USER_CLAIM])
        family_id = uuid.UUID(str(token[FAMILY_CLAIM]))
        jti = str(token["jti"])
        expires_at = _expiry(token)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        # Signed by us but not one of ours (a token of simplejwt's own views, say): no family, no entry.
        raise TokenRejected(_("The token is not valid.")) from None
    return user_id, family_id, jti, expires_at


def _revoked() -> TokenRejected:
    return TokenRejected(_("This sign-in has ended. Sign in again."), code="token_revoked")


def _disabled() -> TokenRejected:
    return TokenRejected(_("This account is disabled."), code="account_disabled")


def pair_issue(*, user_id: int, device: str, ip: str | None) -> TokenPair:
    """Start a family for a sign-in whose credentials (and, later, second factor) were accepted."""
    family_id = uuid.uuid4()
    refresh, access = _new_pair(user_id, family_id)
    now = timezone.now()
    account = get_user_model().objects.only("password").get(pk=user_id)
    TokenFamily.objects.create(
        password_stamp=_password_stamp(account),
        id=family_id,
        user_id=user_id,
        created_at=now,
        last_used_at=now,
        device=device,
        ip=ip or None,
        current_jti=str(refresh["jti"]),
        expires_at=_expiry(refresh),
    )
    return _pair(refresh, access, family_id)


def pair_rotate(*, refresh: str, ip: str | None) -> TokenPair:
    """A new pair for the newest refresh token of a family; an older one revokes the family."""
    user_id, family_id, jti, _expires_at = _decode(RefreshToken, refresh)
    reused = False
    with transaction.atomic():
        # Locked, so that two refreshes with one token cannot both win: the second sees a new jti.
        family = (
            TokenFamily.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=family_id, user_id=user_id)
            .first()
        )
        if family is None:
            raise TokenRejected(_("The token is not valid."))
        if family.revoked_at is not None or not _stamp_matches(family):
            raise _revoked()
        if not family.user.is_active:
            raise _disabled()
        now = timezone.now()
        if family.current_jti != jti:
            family.revoked_at = now
            family.revoked_reason = "reuse"
            family.save(update_fields=["revoked_at", "revoked_reason"])
            disconnect_credential(family_credential(family_id), on_commit=True)
            reused = True
        else:
            new_refresh, new_access = _new_pair(user_id, family_id)
            family.current_jti = str(new_refresh["jti"])
            family.expires_at = _expiry(new_refresh)
            family.last_used_at = now
            if ip:
                family.ip = ip
            family.save(update_fields=["current_jti", "expires_at", "last_used_at", "ip"])
    if reused:
        # Raised after the block, so that the revocation commits.
        logger.warning("refresh token reused: family revoked", extra={"family_id": str(family_id)})
        raise TokenRejected(
            _("This refresh token was used twice, so this sign-in has been ended for safety. Sign in again."),
            code="token_reused",
        )
    return _pair(new_refresh, new_access, family_id)


def access_user(raw: str) -> tuple[Any, AccessGrant]:
    """The account (a model instance, for ``request.user``) and grant of a valid access token.

    One query: the family and its account together. Refuses the token of a revoked family or of a
    disabled account.
    """
    user_id, family_id, _jti, expires_at = _decode(AccessToken, raw)
    family = TokenFamily.objects.select_related("user").filter(pk=family_id, user_id=user_id).first()
    if family is None:
        raise TokenRejected(_("The token is not valid."))
    if family.revoked_at is not None or not _stamp_matches(family):
        raise _revoked()
    if not family.user.is_active:
        raise _disabled()
    now = timezone.now()
    if family.last_used_at < now - LAST_USED_PRECISION:
        TokenFamily.objects.filter(pk=family_id).update(last_used_at=now)
    return family.user, AccessGrant(user_id=user_id, family_id=family_id, expires_at=expires_at)


def family_of_refresh(raw: str) -> AccessGrant | None:
    """Whose sign-in a refresh token names, for signing out; None when it has expired (and with it
    every access token of its family, which never outlive their refresh token)."""
    try:
        user_id, family_id, _jti, _expires_at = _decode(RefreshToken, raw)
    except TokenRejected as error:
        if error.code == "token_expired":
            return None
        raise
    return AccessGrant(user_id=user_id, family_id=family_id)


def family_revoke(*, family_id: uuid.UUID, reason: str, user_id: int | None = None) -> bool:
    """Revoke a family (its refresh and access tokens stop working, its sockets close); False if there
    was none to revoke."""
    families = TokenFamily.objects.filter(pk=family_id, revoked_at__isnull=True)
    if user_id is not None:
        families = families.filter(user_id=user_id)
    with transaction.atomic():
        revoked = families.update(revoked_at=timezone.now(), revoked_reason=reason) > 0
        if revoked:
            disconnect_credential(family_credential(family_id), on_commit=True)
    return revoked


def families_revoke(*, user_id: int, reason: str, keep: uuid.UUID | None = None) -> int:
    """Revoke every family of a member that is still on, but ``keep`` (their sockets close); how many
    were."""
    families = TokenFamily.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if keep is not None:
        families = families.exclude(pk=keep)
    with transaction.atomic():
        revoked = list(
            TokenFamily.objects.filter(pk__in=families.values("pk"))
            .filter(revoked_at__isnull=True)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        TokenFamily.objects.filter(pk__in=revoked).update(revoked_at=timezone.now(), revoked_reason=reason)
        for family_id in revoked:
            disconnect_credential(family_credential(family_id), on_commit=True)
    return len(revoked)
