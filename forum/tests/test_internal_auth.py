"""Signed service-to-service calls: the signature, the replay window, the /internal/ guard, the client."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path, re_path
from pytest_django.live_server_helper import LiveServer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from forum.internal_auth import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    InternalAPIView,
    InternalCaller,
    InternalCallError,
    InternalClient,
    SignatureRejected,
    internal_not_found,
    sign_request,
    verify,
)

OLD_SECRET = "old-secret-of-at-least-thirty-two-characters"
NEW_SECRET = "new-secret-of-at-least-thirty-two-characters"
KEYS = {"old": OLD_SECRET, "new": NEW_SECRET}
WINDOW = 300
ECHO = "/internal/v1/echo"


class EchoView(InternalAPIView):
    """What the server saw of a signed call."""

    def get(self, request: Request) -> Response:
        return self._echo(request)

    def post(self, request: Request) -> Response:
        return self._echo(request)

    def _echo(self, request: Request) -> Response:
        assert isinstance(request.auth, InternalCaller)
        return Response(
            {
                "method": request.method,
                "key_id": request.auth.key_id,
                "member": request.user.is_authenticated,
                "query": dict(request.query_params.items()),
                "data": request.data if request.method == "POST" else None,
            }
        )


def plain_internal_view(request: Any) -> HttpResponse:
    # A plain Django view under /internal/ that checks nothing itself: the middleware alone guards it.
    return HttpResponse("reached")


urlpatterns = [
    path("internal/v1/echo", EchoView.as_view()),
    path("internal/v1/plain", plain_internal_view),
    re_path(r"^internal/", internal_not_found),
    path("api/v1/echo", EchoView.as_view()),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def keys(settings: Any) -> None:
    settings.INTERNAL_API_SECRETS = dict(KEYS)
    settings.INTERNAL_API_SIGNING_KEY_ID = "new"
    settings.INTERNAL_API_MAX_SKEW = WINDOW


def headers_for(
    method: str, target: str, body: bytes = b"", *, key_id: str = "new", secret: str = NEW_SECRET, **kw: Any
) -> dict[str, str]:
    return sign_request(method, target, body, key_id=key_id, secret=secret, **kw)


def call(
    client: Client, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Any:
    return client.generic(method, target, body, content_type="application/json", headers=headers or {})


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- verify(), without HTTP ------------------------------------------------------------------------


class NonceBook:
    """An in-memory nonce store, so that these checks need no Redis and no clock."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.timeouts: list[int] = []

    def __call__(self, key_id: str, nonce: str, timeout: int) -> bool:
        self.timeouts.append(timeout)
        if (key_id, nonce) in self.seen:
            return False
        self.seen.add((key_id, nonce))
        return True


def check(
    headers: dict[str, str],
    *,
    method: str = "POST",
    target: str = "/internal/v1/users/lookup?x=1",
    body: bytes = b'{"ids":[1]}',
    now: float = 1_000_000,
    nonces: NonceBook | None = None,
) -> InternalCaller:
    return verify(
        method=method,
        path=target,
        body=body,
        headers=headers,
        secrets_by_key_id=KEYS,
        max_skew=WINDOW,
        now=now,
        remember_nonce=nonces or NonceBook(),
    )


def signed_at(timestamp: int, **kw: Any) -> dict[str, str]:
    return headers_for("POST", "/internal/v1/users/lookup?x=1", b'{"ids":[1]}', timestamp=timestamp, **kw)


def rejection(headers: dict[str, str], **kw: Any) -> str:
    with pytest.raises(SignatureRejected) as caught:
        check(headers, **kw)
    assert caught.value.status == 401
    return caught.value.code


def test_a_good_signature_names_its_key() -> None:
    assert check(signed_at(1_000_000)) == InternalCaller(key_id="new")


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"ids":[2]}'},
        {"target": "/internal/v1/users/lookup?x=2"},
        {"target": "/internal/v1/users/lookup"},
        {"target": "/internal/v1/users/1"},
        {"method": "PUT"},
    ],
    ids=["body", "query", "query-dropped", "path", "method"],
)
def test_any_change_to_the_call_breaks_the_signature(change: dict[str, Any]) -> None:
    assert rejection(signed_at(1_000_000), **change) == "invalid_signature"


def test_a_wrong_secret_is_an_invalid_signature() -> None:
    headers = signed_at(1_000_000, secret="some-other-secret-of-thirty-two-characters")
    assert rejection(headers) == "invalid_signature"


def test_another_keys_id_on_a_signature_is_invalid() -> None:
    headers = signed_at(1_000_000) | {HEADER_KEY_ID: "old"}
    assert rejection(headers) == "invalid_signature"


def test_an_unknown_key_id_is_refused() -> None:
    assert rejection(signed_at(1_000_000, key_id="retired")) == "unknown_key"


def test_the_window_is_max_skew_either_side() -> None:
    assert check(signed_at(1_000_000 - WINDOW)).key_id == "new"
    assert check(signed_at(1_000_000 + WINDOW)).key_id == "new"
    assert rejection(signed_at(1_000_000 - WINDOW - 1)) == "expired_signature"
    assert rejection(signed_at(1_000_000 + WINDOW + 1)) == "expired_signature"


def test_a_nonce_is_accepted_once_and_kept_for_twice_the_window() -> None:
    nonces = NonceBook()
    headers = signed_at(1_000_000)
    check(headers, nonces=nonces)
    assert rejection(headers, nonces=nonces) == "replayed_signature"
    assert nonces.timeouts == [2 * WINDOW, 2 * WINDOW]


def test_a_bad_signature_does_not_spend_the_nonce() -> None:
    nonces = NonceBook()
    good = signed_at(1_000_000)
    assert rejection(good, body=b"tampered", nonces=nonces) == "invalid_signature"
    assert nonces.seen == set()
    assert check(good, nonces=nonces).key_id == "new"


@pytest.mark.parametrize("header", [HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE])
def test_each_missing_header_is_named(header: str) -> None:
    headers = signed_at(1_000_000)
    del headers[header]
    with pytest.raises(SignatureRejected) as caught:
        check(headers)
    assert caught.value.code == "missing_signature"
    assert header in caught.value.message


@pytest.mark.parametrize(
    "header, value",
    [
        (HEADER_TIMESTAMP, "1e6"),
        (HEADER_TIMESTAMP, "-1000000"),
        (HEADER_NONCE, "short"),
        (HEADER_NONCE, "has spaces in it, sixteen+"),
        (HEADER_SIGNATURE, "ABCDEF" * 10 + "ABCD"),
    ],
)
def test_malformed_headers_are_an_invalid_signature(header: str, value: str) -> None:
    assert rejection(signed_at(1_000_000) | {header: value}) == "invalid_signature"


# --- The /internal/ guard, over HTTP ---------------------------------------------------------------


def test_a_signed_get_reaches_the_view_with_its_query(client: Client) -> None:
    target = f"{ECHO}?page=2&q=a%20b"
    response = call(client, "GET", target, headers=headers_for("GET", target))
    assert response.status_code == 200
    assert response.json() == {
        "method": "GET",
        "key_id": "new",
        "member": False,
        "query": {"page": "2", "q": "a b"},
        "data": None,
    }


@pytest.mark.django_db  # every write passes the address-ban check, which reads its version row
def test_a_signed_post_needs_no_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"name": "Ёжик", "ids": [1, 2]}).encode()
    response = call(client, "POST", ECHO, body, headers_for("POST", ECHO, body))
    assert response.status_code == 200
    assert response.json()["data"] == {"name": "Ёжик", "ids": [1, 2]}


def test_both_keys_of_a_rotation_are_accepted(client: Client) -> None:
    for key_id, secret in KEYS.items():
        response = call(client, "GET", ECHO, headers=headers_for("GET", ECHO, key_id=key_id, secret=secret))
        assert response.status_code == 200
        assert response.json()["key_id"] == key_id


def test_an_unsigned_call_is_refused_with_the_json_error_and_a_challenge(client: Client) -> None:
    response = call(client, "GET", ECHO)
    assert error_of(response) == (401, "missing_signature")
    assert response.json()["error"]["message"].startswith("Internal endpoints want a signed call")
    assert response["WWW-Authenticate"].startswith("InternalHMAC")


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ({"body": b'{"ids":[2]}'}, "invalid_signature"),
        ({"target": f"{ECHO}?page=2"}, "invalid_signature"),
        ({"method": "PUT"}, "invalid_signature"),
        ({"secret": "some-other-secret-of-thirty-two-characters"}, "invalid_signature"),
        ({"key_id": "retired"}, "unknown_key"),
        # Offsets from the moment of the call (a timestamp fixed at collection would go stale).
        ({"timestamp_offset": -WINDOW - 60}, "expired_signature"),
        ({"timestamp_offset": WINDOW + 60}, "expired_signature"),
    ],
    ids=["body", "path", "method", "secret", "key", "expired", "future"],
)
def test_every_bad_call_is_a_401_with_its_code(client: Client, tamper: dict[str, Any], expected: str) -> None:
    sent_body, sent_target, sent_method = b'{"ids":[1]}', ECHO, "POST"
    signing: dict[str, Any] = {"key_id": "new", "secret": NEW_SECRET}
    signing |= {name: tamper[name] for name in ("secret", "key_id") if name in tamper}
    if "timestamp_offset" in tamper:
        signing["timestamp"] = int(time.time()) + tamper["timestamp_offset"]
    headers = headers_for("POST", ECHO, b'{"ids":[1]}', **signing)
    response = call(
        client,
        tamper.get("method", sent_method),
        tamper.get("target", sent_target),
        tamper.get("body", sent_body),
        headers,
    )
    assert error_of(response) == (401, expected)


@pytest.mark.django_db  # every write passes the address-ban check, which reads its version row
def test_the_same_call_twice_is_refused_the_second_time(client: Client) -> None:
    body = b'{"ids":[1]}'
    headers = headers_for("POST", ECHO, body)
    assert call(client, "POST", ECHO, body, headers).status_code == 200
    assert error_of(call(client, "POST", ECHO, body, headers)) == (401, "replayed_signature")


def test_a_nonce_is_spent_per_key(client: Client) -> None:
    nonce = secrets.token_urlsafe(24)
    for key_id, secret in KEYS.items():
        headers = headers_for("GET", ECHO, key_id=key_id, secret=secret, nonce=nonce)
        assert call(client, "GET", ECHO, headers=headers).status_code == 200


def test_a_plain_view_under_internal_is_guarded_too(client: Client) -> None:
    assert error_of(call(client, "GET", "/internal/v1/plain")) == (401, "missing_signature")
    target = "/internal/v1/plain"
    response = call(client, "GET", target, headers=headers_for("GET", target))
    assert response.status_code == 200 and response.content == b"reached"


def test_an_unknown_internal_path_is_refused_unsigned_and_a_json_404_signed(client: Client) -> None:
    target = "/internal/v1/nothing/here"
    assert error_of(call(client, "GET", target)) == (401, "missing_signature")
    assert error_of(call(client, "GET", target, headers=headers_for("GET", target))) == (404, "not_found")


def test_the_guard_leaves_other_paths_alone(client: Client) -> None:
    # The same view outside /internal/ was not verified by the middleware, so it refuses by itself.
    response = call(client, "GET", "/api/v1/echo", headers=headers_for("GET", "/api/v1/echo"))
    assert error_of(response) == (401, "missing_signature")


def test_an_internal_view_without_the_middleware_fails_closed() -> None:
    request = APIRequestFactory().get(ECHO, headers=headers_for("GET", ECHO))
    response = EchoView.as_view()(request)
    assert response.status_code == 401
    assert response.data["error"]["code"] == "missing_signature"


# --- The client, against a real server ----------------------------------------------------------------


def test_the_client_and_the_server_agree(live_server: LiveServer) -> None:
    client = InternalClient.from_settings(live_server.url)
    assert client.key_id == "new"
    answer = client.post(f"{ECHO}?lang=ru", {"text": "Привет", "ids": [3, 1]})
    assert answer == {
        "method": "POST",
        "key_id": "new",
        "member": False,
        "query": {"lang": "ru"},
        "data": {"text": "Привет", "ids": [3, 1]},
    }
    assert client.get(ECHO, params={"q": "a b&c"})["query"] == {"q": "a b&c"}


def test_the_client_under_a_path_prefix_signs_the_whole_path(live_server: LiveServer) -> None:
    # The base address may carry a prefix; what is signed is the path of the request line.
    client = InternalClient(f"{live_server.url}/internal", key_id="old", secret=OLD_SECRET)
    assert client.get("/v1/echo")["key_id"] == "old"


def test_the_client_raises_the_servers_error(live_server: LiveServer) -> None:
    client = InternalClient(live_server.url, key_id="new", secret="some-other-secret-of-thirty-two-chars")
    with pytest.raises(InternalCallError) as caught:
        client.get(ECHO)
    assert (caught.value.status, caught.value.code) == (401, "invalid_signature")
    signed = InternalClient.from_settings(live_server.url)
    with pytest.raises(InternalCallError) as missing:
        signed.get("/internal/v1/nothing")
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_an_unreachable_service_is_a_503_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = InternalClient(f"http://127.0.0.1:{port}", key_id="new", secret=NEW_SECRET, timeout=2)
    with pytest.raises(InternalCallError) as caught:
        client.get(ECHO)
    assert (caught.value.status, caught.value.code) == (503, "unavailable")


def test_the_client_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="http or https"):
        InternalClient("file:///etc", key_id="new", secret=NEW_SECRET)


# --- Configuration -----------------------------------------------------------------------------------------


def load_settings(**variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("INTERNAL_API_", "FORUM_"))
    }
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "FORUM_ENV": "production",
    "DEBUG": "false",
    "SECRET_KEY": "s" * 60,
    "PASSWORD_PEPPER": "p" * 40,
    "ALLOWED_HOSTS": "forum.example.com",
}


@pytest.mark.parametrize(
    "secrets_value",
    [None, "k1:too-short", "k1:insecure-development-internal-secret-never-use-in-production"],
    ids=["missing", "short", "development-default"],
)
def test_production_refuses_to_start_without_a_real_internal_secret(secrets_value: str | None) -> None:
    variables = dict(PRODUCTION)
    if secrets_value is not None:
        variables["INTERNAL_API_SECRETS"] = secrets_value
    loaded = load_settings(**variables)
    assert loaded.returncode != 0
    assert "INTERNAL_API_SECRETS is missing" in loaded.stderr


def test_production_starts_with_real_internal_secrets() -> None:
    loaded = load_settings(**PRODUCTION, INTERNAL_API_SECRETS=f"k1:{'a' * 40}, k2:{'b' * 40}")
    assert loaded.returncode == 0, loaded.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"INTERNAL_API_SECRETS": "k1:aaa,k1:bbb"},
        {"INTERNAL_API_SECRETS": "no-colon"},
        {"INTERNAL_API_SECRETS": "k1:aaa", "INTERNAL_API_SIGNING_KEY_ID": "k2"},
        {"INTERNAL_API_MAX_SKEW": "0"},
    ],
    ids=["duplicate-id", "no-secret", "signing-key-unknown", "no-window"],
)
def test_bad_internal_settings_are_refused_in_any_profile(variables: dict[str, str]) -> None:
    loaded = load_settings(FORUM_ENV="development", **variables)
    assert loaded.returncode != 0
    assert "INTERNAL_API_" in loaded.stderr
