"""Service-to-service authentication: HMAC-signed calls to the endpoints under /internal/.

A caller signs a canonical string (method, path with query string, timestamp, nonce and the SHA-256 of
the body) with a shared secret named by a key id; the server recomputes it, refuses timestamps outside
``INTERNAL_API_MAX_SKEW`` seconds of its clock and any nonce it has already seen inside that window.
``InternalSignatureMiddleware`` guards every path under ``/internal/`` before sessions or views run, so
no internal view can be reached unsigned; ``InternalAPIView`` is the base of the DRF views there.
``InternalClient`` (standard library only) signs outgoing calls, for an app split into its own service.

Settings (config/settings.py): ``INTERNAL_API_SECRETS`` (key id to secret, every key accepted),
``INTERNAL_API_SIGNING_KEY_ID`` (the key outgoing calls use), ``INTERNAL_API_MAX_SKEW`` (seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from forum.errors import ApplicationError, error_body

__all__ = [
    "HEADER_KEY_ID",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "INTERNAL_PREFIX",
    "InternalAPIView",
    "InternalCallError",
    "InternalCaller",
    "InternalClient",
    "InternalSignatureAuthentication",
    "InternalSignatureMiddleware",
    "IsInternalCaller",
    "NonceStoreUnavailable",
    "SignatureRejected",
    "canonical_string",
    "internal_caller",
    "internal_not_found",
    "sign_request",
    "verify",
    "verify_request",
]

INTERNAL_PREFIX = "/internal/"
HEADER_KEY_ID = "X-Internal-Key-Id"
HEADER_TIMESTAMP = "X-Internal-Timestamp"
HEADER_NONCE = "X-Internal-Nonce"
HEADER_SIGNATURE = "X-Internal-Signature"
# The scheme named in WWW-Authenticate: a 401 must name one, and it tells a caller what is wanted.
AUTH_SCHEME = 'InternalHMAC realm="internal"'

# Strict shapes: a header that is not one of these is refused before any work is done with it.
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_NONCE_KEY_PREFIX = "internal-auth:nonce"
# The attribute the middleware leaves on a verified request, for the DRF authentication class.
_CALLER_ATTRIBUTE = "internal_caller"


@dataclass(frozen=True)
class InternalCaller:
    """Who signed a verified internal call: the id of the key it used."""

    key_id: str


class SignatureRejected(ApplicationError):
    """An internal call whose signature is missing, wrong, too old or replayed; always a 401."""

    status = 401
    code = "invalid_signature"


def _body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What is signed: one field per line, so no field can run into the next."""
    return "\n".join([method.upper(), path, timestamp, nonce, _body_digest(body)]).encode()


def _signature(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_request(
    method: str,
    path: str,
    body: bytes,
    *,
    key_id: str,
    secret: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one call; ``path`` is the path with its query string, as sent."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_urlsafe(24) if nonce is None else nonce
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: stamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: _signature(secret, canonical_string(method, path, stamp, nonce, body)),
    }


class NonceStoreUnavailable(ApplicationError):
    """The nonces are kept in Redis; without it a replay cannot be told from a first call."""

    status = 503
    code = "unavailable"


def _remember_nonce(key_id: str, nonce: str, timeout: int) -> bool:
    # cache.add is atomic in Redis (SET NX): of two concurrent copies of one call, exactly one wins.
    try:
        return bool(cache.add(f"{_NONCE_KEY_PREFIX}:{key_id}:{nonce}", 1, timeout=timeout))
    except Exception as error:
        # Closed, not open: replay protection does not switch off during a Redis outage. The caller
        # gets a 503 (never a 500) and may sign the call again, with a fresh nonce, later.
        raise NonceStoreUnavailable(
            "The internal API cannot check nonces right now; try again shortly."
        ) from error


def verify(
    *,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    secrets_by_key_id: Mapping[str, str],
    max_skew: int,
    now: float | None = None,
    remember_nonce: Callable[[str, str, int], bool] = _remember_nonce,
) -> InternalCaller:
    """Check one call's signature, age and nonce; raise ``SignatureRejected`` saying which failed.

    The signature is checked before the clock and the nonce, so that unsigned traffic never fills the
    nonce store and an "expired" or "replayed" answer always concerns a genuinely signed call.
    """
    values = {name: headers.get(name, "") for name in (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE)}
    signature = headers.get(HEADER_SIGNATURE, "")
    missing = [name for name, value in {**values, HEADER_SIGNATURE: signature}.items() if not value]
    if missing:
        raise SignatureRejected(
            "Internal endpoints want a signed call; missing: " + ", ".join(missing) + ".",
            code="missing_signature",
        )
    key_id, stamp, nonce = values[HEADER_KEY_ID], values[HEADER_TIMESTAMP], values[HEADER_NONCE]
    secret = secrets_by_key_id.get(key_id)
    if secret is None:
        raise SignatureRejected(f"No internal key has the id {key_id!r}.", code="unknown_key")
    if not (_TIMESTAMP.fullmatch(stamp) and _NONCE.fullmatch(nonce) and _SIGNATURE.fullmatch(signature)):
        raise SignatureRejected(
            "The signature headers are malformed: the timestamp is unix seconds, the nonce 16 to 128 "
            "URL-safe characters, the signature 64 lowercase hex digits."
        )
    expected = _signature(secret, canonical_string(method, path, stamp, nonce, body))
    if not hmac.compare_digest(expected, signature):
        raise SignatureRejected("The signature does not match the call.")
    age = (time.time() if now is None else now) - int(stamp)
    if age > max_skew:
        raise SignatureRejected(f"The signature is older than {max_skew} seconds.", code="expired_signature")
    if age < -max_skew:
        raise SignatureRejected(
            f"The signature's timestamp is more than {max_skew} seconds ahead: are the clocks in step?",
            code="expired_signature",
        )
    # Kept for twice the window: a call is acceptable for max_skew either side of its timestamp.
    if not remember_nonce(key_id, nonce, 2 * max_skew):
        raise SignatureRejected(
            "This call was already made: its nonce has been used.", code="replayed_signature"
        )
    return InternalCaller(key_id=key_id)


def verify_request(request: HttpRequest) -> InternalCaller:
    """``verify`` for a Django request, with the keys and the window from settings."""
    return verify(
        method=request.method or "",
        path=request.get_full_path(),
        body=request.body,
        headers=request.headers,
        secrets_by_key_id=settings.INTERNAL_API_SECRETS,
        max_skew=settings.INTERNAL_API_MAX_SKEW,
    )


def _refusal(error: ApplicationError) -> JsonResponse:
    response = JsonResponse(error_body(error.code, error.message), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = AUTH_SCHEME
    return response


class InternalSignatureMiddleware:
    """Refuses every call under /internal/ that is not validly signed, before sessions and views run.

    A guard on the whole prefix, not on each view, so that an internal view cannot be left open by
    forgetting it. A signed call speaks for a service, never for a member: its cookies are dropped, so
    no session (a superuser's included) is loaded and CSRF, which protects cookies, has nothing to do.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(INTERNAL_PREFIX):
            return self.get_response(request)
        request.COOKIES = {}
        try:
            caller = verify_request(request)
        except (SignatureRejected, NonceStoreUnavailable) as error:
            return _refusal(error)
        except RequestDataTooBig:
            return _refusal(
                ApplicationError("The body of the call is too large.", code="too_large", status=413)
            )
        setattr(request, _CALLER_ATTRIBUTE, caller)
        return self.get_response(request)


def internal_caller(request: HttpRequest) -> InternalCaller | None:
    """The service that signed this request (verified by the middleware), or None for any other."""
    caller = getattr(request, _CALLER_ATTRIBUTE, None)
    return caller if isinstance(caller, InternalCaller) else None


def internal_not_found(request: HttpRequest) -> JsonResponse:
    """The answer to a signed call for a path nothing serves: the JSON error, not the HTML page."""
    return _refusal(ApplicationError("No internal endpoint has this address.", code="not_found", status=404))


class InternalSignatureAuthentication(BaseAuthentication):
    """DRF authentication of internal views: the caller the middleware verified, or a 401.

    It does not verify again (the nonce would then count as replayed); without the middleware's mark,
    the view refuses, so a misconfigured deployment fails closed.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, InternalCaller]:
        caller = getattr(request._request, _CALLER_ATTRIBUTE, None)
        if not isinstance(caller, InternalCaller):
            raise exceptions.AuthenticationFailed(
                "Internal endpoints want a signed call.", code="missing_signature"
            )
        # No member acts in an internal call; request.auth names the calling service's key.
        return AnonymousUser(), caller

    def authenticate_header(self, request: Request) -> str:
        return AUTH_SCHEME


class IsInternalCaller(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, InternalCaller)


@extend_schema(exclude=True)
class InternalAPIView(APIView):
    """Base of the views under /internal/: signed callers only, no throttling, not in the public schema.

    The public schema documents the API for browsers and single-page apps; internal endpoints are a
    contract between our own services, described beside their code and in docs/architecture.md.
    """

    authentication_classes = [InternalSignatureAuthentication]
    permission_classes = [IsInternalCaller]
    throttle_classes: list[Any] = []


class InternalCallError(Exception):
    """An internal call that did not answer 2xx: the status, and the error code and message if any."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would be followed unsigned for its new path: surface it as the error it is instead.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class InternalClient:
    """Signed JSON calls to another service's /internal/ endpoints, with the standard library only.

    ``base_url`` is where that service answers (``http://users.internal:8000``, perhaps with a path
    prefix); the signed path is the one the request line carries, prefix and query string included.
    """

    def __init__(self, base_url: str, *, key_id: str, secret: str, timeout: float = 5.0) -> None:
        if urlsplit(base_url).scheme not in {"http", "https"}:
            raise ValueError(f"An internal service answers over http or https, not at {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = secret
        self.timeout = timeout
        # No proxies from the environment: internal calls go straight to the service they name.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    @classmethod
    def from_settings(cls, base_url: str, *, timeout: float = 5.0) -> InternalClient:
        key_id: str = settings.INTERNAL_API_SIGNING_KEY_ID
        return cls(base_url, key_id=key_id, secret=settings.INTERNAL_API_SECRETS[key_id], timeout=timeout)

    def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        if params:
            path = f"{path}?{urlencode(params)}"
        return self.call("GET", path)

    def post(self, path: str, payload: Any) -> Any:
        return self.call("POST", path, payload)

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """Send one signed call: the decoded JSON answer, or ``InternalCallError`` when it is not 2xx
        (status 503 with the code ``unavailable`` when the service could not be reached)."""
        if not path.startswith("/"):
            raise ValueError(f"An internal path starts with a slash, not {path!r}")
        url = self.base_url + path
        parts = urlsplit(url)
        signed_path = parts.path + (f"?{parts.query}" if parts.query else "")
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = sign_request(method, signed_path, body, key_id=self.key_id, secret=self.secret)
        headers["Accept"] = "application/json"
        if payload is not None:
            headers["Content-Type"] = "application/json"
        # The scheme is http or https, checked when the client was made.
        request = urllib.request.Request(  # noqa: S310
            url, data=body or None, headers=headers, method=method.upper()
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            raise self._error(error.code, error.read()) from None
        except OSError as error:  # refused, unreachable, timed out: one error type for the caller
            raise InternalCallError(503, "unavailable", str(error)) from error
        return json.loads(content) if content else None

    @staticmethod
    def _error(status: int, content: bytes) -> InternalCallError:
        try:
            detail = json.loads(content)["error"]
            return InternalCallError(status, str(detail["code"]), str(detail["message"]))
        except (ValueError, KeyError, TypeError):
            return InternalCallError(status, "error", content[:200].decode(errors="replace"))
