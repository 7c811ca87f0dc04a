"""A member's signed-in sessions: the site's (Django sessions) and the API's (token families).

Web sessions are recorded by ``SessionActivityMiddleware`` (at most once a minute per session) and
checked against the session store when listed, so a session that expired, signed out or was cut off
by a password change is never shown (and its record is dropped then). Ending a web session deletes it
from the store; ending a token family revokes it.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from apps.authorization import tokens
from apps.authorization.models import TokenFamily, WebSession
from forum.errors import NotFound
from forum.realtime import disconnect_credential, session_credential

# How often one session's "last seen" (and address) is written: enough for people, cheap for the site.
TOUCH_INTERVAL = datetime.timedelta(minutes=1)
# The key in the session itself that remembers when it was last recorded, so that most requests skip
# the write without asking the database.
TOUCHED_KEY = "authorization.touched_at"

KIND_WEB = "web"
KIND_TOKEN = "token"  # noqa: S105  a kind of session, not a secret


@dataclass(frozen=True)
class SessionRow:
    """One place a member is signed in: a browser session (``web``) or an API sign-in (``token``)."""

    id: uuid.UUID
    kind: str
    device: str
    ip: str | None
    created_at: datetime.datetime
    last_seen_at: datetime.datetime
    current: bool


@dataclass(frozen=True)
class CurrentSession:
    """What the asking request itself is signed in by, so that it is marked and spared."""

    session_key: str | None = None
    family_id: uuid.UUID | None = None


def _store(session_key: str) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def session_touch(
    *, user_id: int, session_key: str, device: str, ip: str | None, now: datetime.datetime
) -> None:
    """Record that the session ``session_key`` of ``user_id`` is in use now: one statement for a
    session already recorded (every minute of a signed-in member's visit), an insert for a new one."""
    fields = {"user_id": user_id, "last_seen_at": now, "device": device, "ip": ip or None}
    if WebSession.objects.filter(session_key=session_key).update(**fields):
        return
    try:
        with transaction.atomic():
            WebSession.objects.create(session_key=session_key, created_at=now, **fields)
    except IntegrityError:  # another request of the same session recorded it first
        WebSession.objects.filter(session_key=session_key).update(**fields)


def _live_web_sessions(user_id: int) -> list[WebSession]:
    """The member's recorded sessions that the store would still sign in; the others are forgotten.

    Two queries whatever the count: the records, then their store rows (this project keeps sessions
    in the database, ``SESSION_ENGINE`` by default), each decoded and matched against the account's
    current session hash, as Django does at each request.
    """
    records = list(WebSession.objects.filter(user_id=user_id))
    if not records:
        return []
    user = get_user_model().objects.filter(pk=user_id).first()
    stored = Session.objects.filter(
        session_key__in=[record.session_key for record in records], expire_date__gt=timezone.now()
    )
    valid: set[str] = set()
    if user is not None and user.is_active:
        expected = user.get_session_auth_hash()
        for row in stored:
            data = row.get_decoded()
            if str(data.get(SESSION_KEY)) == str(user_id) and constant_time_compare(
                str(data.get(HASH_SESSION_KEY, "")), expected
            ):
                valid.add(row.session_key)
    dead = [record.pk for record in records if record.session_key not in valid]
    if dead:
        WebSession.objects.filter(pk__in=dead).delete()
    return [record for record in records if record.session_key in valid]


def sessions_of(*, user_id: int, current: CurrentSession) -> list[SessionRow]:
    """Every session of the member that still works, the most recently seen first."""
    rows = [
        SessionRow(
            id=record.id,
            kind=KIND_WEB,
            device=record.device,
            ip=record.ip,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            current=record.session_key == current.session_key,
        )
        for record in _live_web_sessions(user_id)
    ]
    families = TokenFamily.objects.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    rows += [
        SessionRow(
            id=family.id,
            kind=KIND_TOKEN,
            device=family.device,
            ip=family.ip,
            created_at=family.created_at,
            last_seen_at=family.last_used_at,
            current=family.id == current.family_id,
        )
        for family in families
    ]
    rows.sort(key=lambda row: (not row.current, -row.last_seen_at.timestamp()))
    return rows


def _end_web(records: list[WebSession]) -> None:
    """Sign the sessions out, and close the sockets they opened once that commits."""
    for record in records:
        _store(record.session_key).delete()
        disconnect_credential(session_credential(record.session_key), on_commit=True)
    WebSession.objects.filter(pk__in=[record.pk for record in records]).delete()


def session_end(*, user_id: int, session_id: uuid.UUID, current: CurrentSession) -> bool:
    """End one session of the member; whether it was ``current``. NotFound for an id that is not one
    of theirs (or is over already): another member's id looks exactly like an unknown one."""
    with transaction.atomic():
        record = WebSession.objects.filter(pk=session_id, user_id=user_id).first()
        if record is not None:
            was_current = record.session_key == current.session_key
            _end_web([record])
        elif tokens.family_revoke(family_id=session_id, user_id=user_id, reason="ended"):
            was_current = session_id == current.family_id
        else:
            raise NotFound(_("There is no such session."))
        # The sockets of that one session or family close (_end_web, tokens.family_revoke); the
        # member's other sockets stay up (docs/tokens.md).
    return was_current


def sessions_end_others(*, user_id: int, current: CurrentSession) -> int:
    """End every session of the member but the asking one; how many were ended."""
    with transaction.atomic():
        records = list(
            WebSession.objects.filter(user_id=user_id).exclude(session_key=current.session_key or "")
        )
        _end_web(records)
        # Each ended session and family closes its own sockets; the asking one's stay up.
        ended = len(records) + tokens.families_revoke(user_id=user_id, reason="ended", keep=current.family_id)
    return ended


def sessions_end_all(*, user_id: int) -> int:
    """End every session and token family of the member (a full ban); how many were ended. Each
    closes its own sockets once this commits."""
    with transaction.atomic():
        records = list(WebSession.objects.filter(user_id=user_id))
        _end_web(records)
        ended = len(records) + tokens.families_revoke(user_id=user_id, reason="banned")
    return ended
