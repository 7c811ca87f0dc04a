"""Idempotency keys of the API: a write retried with the same ``Idempotency-Key`` gets the first answer.

A client that lost the answer to a write (a dropped connection, a server killed past its timeout)
cannot tell whether the write happened. Sent with ``Idempotency-Key: <1 to 255 printable ASCII
characters>``, a POST, PUT, PATCH or DELETE under ``/api/`` by a signed-in member runs at most once per
key and member: a retry with the same key and the same request (method, path, query string, content
type and body) gets the stored answer again, with ``Idempotent-Replayed: true``; the same key with a
different request is refused with 409 ``idempotency_key_reused``. Keys are kept
``IDEMPOTENCY_KEY_TTL_HOURS`` (24) and pruned hourly (``forum.prune_idempotency_keys``).

Why one transaction: the key row is inserted first, the view runs, and its answer is stored, all in one
``transaction.atomic()``. A process killed before the commit leaves neither the write nor the key (the
retry runs for real); after the commit both exist (the retry replays). A concurrent duplicate waits on
the unique index until the first commits, then replays; if the first rolled back, it runs. The
services' own ``atomic()`` blocks become savepoints, and their on-commit callbacks (the outbox sends)
run at this outer commit, before the answer goes out.

What is kept: 2xx answers only. Any other answer drops the key in the same transaction, so a refused
or failed call may be retried for real; a 5xx also rolls back whatever the view wrote. Answers that set
cookies, say ``Cache-Control: no-store`` or stream are not kept either (the retry runs again), and the
paths of ``IDEMPOTENCY_EXEMPT_PATHS`` (sign-in, tokens, two-factor secrets) ignore the header: their
answers carry secrets that must not wait in a table for a day.

Who: the caller is resolved with DRF's configured authentication classes (session, Bearer token,
access cookie); a call with no caller, or with credentials the view will refuse, ignores the header
and is answered by the view as usual. Bodies are fingerprinted in memory, so a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` with the header is refused with 413 ``idempotency_body_too_large``.
Without the header this middleware runs no query and reads nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeGuard, cast

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.settings import api_settings

from forum.errors import API_PREFIX, error_response
from forum.models import IdempotencyKey

__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "IdempotencyMiddleware",
    "applies_to",
    "prune_keys",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def applies_to(method: str, path: str) -> bool:
    """Whether a request of ``method`` to ``path`` may carry an ``Idempotency-Key`` (the schema asks too)."""
    return (
        method.upper() in _WRITE_METHODS
        and path.startswith(API_PREFIX)
        and not any(path.startswith(prefix) for prefix in settings.IDEMPOTENCY_EXEMPT_PATHS)
    )


class IdempotencyMiddleware:
    """Placed after the session and authentication middleware, so that the session's member is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None or not applies_to(request.method or "", request.path_info):
            return self.get_response(request)
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and size > limit:
            return error_response(
                request,
                413,
                code="idempotency_body_too_large",
                message=_("A request this large cannot carry an Idempotency-Key; send it without one."),
            )
        # Read before the caller is resolved: a CSRF check may parse a form, and the view still needs
        # the body, which Django keeps once read.
        body = request.body
        member_id = _caller_id(request)
        if member_id is None:
            return self.get_response(request)
        if not _VALID_KEY.fullmatch(key):
            return error_response(
                request,
                400,
                code="invalid_idempotency_key",
                message=_("The Idempotency-Key header must be 1 to 255 printable ASCII characters."),
            )
        return self._once(request, member_id, key, _fingerprint(request, body))

    def _once(self, request: HttpRequest, member_id: int, key: str, fingerprint: str) -> HttpResponseBase:
        with transaction.atomic():
            claimed = _claim(member_id, key, fingerprint)
            if claimed is None:
                return _replay(request, member_id, key, fingerprint)
            response = self.get_response(request)
            if 200 <= response.status_code < 300 and _keepable(response):
                IdempotencyKey.objects.filter(id=claimed).update(
                    status=response.status_code,
                    content_type=response.get("Content-Type", ""),
                    body=response.content,
                )
            elif response.status_code >= 500:
                transaction.set_rollback(True)  # a crash leaves nothing, as a killed process would
            else:
                IdempotencyKey.objects.filter(id=claimed).delete()
            return response


def _caller_id(request: HttpRequest) -> int | None:
    """The member DRF's authentication classes see, without the side effects of ``Request.user``
    (which would set ``request.user`` to the token's account, or to anonymous on a refusal)."""
    parser_classes = cast("list[type[BaseParser]]", api_settings.DEFAULT_PARSER_CLASSES)
    drf_request = Request(request, parsers=[parser() for parser in parser_classes])
    for authentication_class in cast(
        "list[type[BaseAuthentication]]", api_settings.DEFAULT_AUTHENTICATION_CLASSES
    ):
        try:
            found = authentication_class().authenticate(drf_request)
        except exceptions.APIException:
            return None  # refused credentials: the view refuses them too, with its own answer
        if found is not None:
            user: Any = found[0]
            return int(user.pk) if user is not None and user.is_authenticated else None
    return None


def _fingerprint(request: HttpRequest, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (
        (request.method or "").encode(),
        request.path.encode(),
        request.META.get("QUERY_STRING", "").encode("latin-1"),
        request.META.get("CONTENT_TYPE", "").encode("latin-1"),
    ):
        digest.update(part + b"\n")
    digest.update(body)
    return digest.hexdigest()


def _claim(member_id: int, key: str, fingerprint: str) -> int | None:
    """Take ``key`` for this call: the new row's id, or None when a live row holds it.

    A row older than the retention period that pruning has not reached yet is taken over, as if it
    were gone. A concurrent call with the same key waits here until the one holding it commits or
    rolls back.
    """
    table = IdempotencyKey._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, key, fingerprint, created_at, status, content_type, body) "
            "VALUES (%s, %s, %s, now(), NULL, '', '') "
            "ON CONFLICT (member_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
            "created_at = now(), status = NULL, content_type = '', body = '' "
            f"WHERE {table}.created_at < now() - make_interval(secs => %s) RETURNING id",
            [member_id, key, fingerprint, _ttl().total_seconds()],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _replay(request: HttpRequest, member_id: int, key: str, fingerprint: str) -> HttpResponseBase:
    stored = IdempotencyKey.objects.filter(member_id=member_id, key=key).first()
    if stored is None or stored.status is None or stored.fingerprint != fingerprint:
        return error_response(
            request,
            409,
            code="idempotency_key_reused",
            message=_(
                "This Idempotency-Key was used for a different request; use a new key for a new request."
            ),
        )
    response = HttpResponse(
        bytes(stored.body), status=stored.status, content_type=stored.content_type or None
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _keepable(response: HttpResponseBase) -> TypeGuard[HttpResponse]:
    """An answer that can be given again as it was: whole (not streamed), without cookies, and not
    marked secret."""
    if not isinstance(response, HttpResponse) or response.cookies:
        return False
    return "no-store" not in response.get("Cache-Control", "")


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=float(settings.IDEMPOTENCY_KEY_TTL_HOURS))


def prune_keys() -> int:
    """Delete the keys past the retention period; returns how many went."""
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - _ttl()).delete()
    return deleted
