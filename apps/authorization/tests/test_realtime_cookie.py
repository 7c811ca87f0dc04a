"""The WebSocket signs in with the access-token cookie: the authenticator alone, then end to end."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from apps.authorization.models import TokenFamily
from apps.authorization.realtime import member_from_access_cookie
from forum.realtime import CLOSE_UNAUTHENTICATED
from forum.testing import processes

PASSWORD = "Quiet-Harbour-Lantern-71"
# A safety net so that a broken gateway fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 15.0


def cookie_sign_in() -> tuple[int, Client, dict[str, str]]:
    """A member signed in by the SPA: (id, its client, the token cookies by name)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:12]}", password=PASSWORD)
    spa = Client()
    response = spa.post(
        "/api/v1/auth/token",
        {"login": user.get_username(), "password": PASSWORD},
        content_type="application/json",
        headers={"X-Token-Transport": "cookie"},
    )
    assert response.status_code == 200
    return int(user.pk), spa, {name: morsel.value for name, morsel in response.cookies.items()}


def scope_with(cookie_header: str) -> dict[str, Any]:
    return {"type": "websocket", "headers": [(b"cookie", cookie_header.encode())]}


@pytest.mark.django_db
def test_the_authenticator_takes_a_valid_access_cookie_and_nothing_else() -> None:
    user_id, spa, cookies = cookie_sign_in()
    access = cookies[settings.JWT_ACCESS_COOKIE_NAME]
    name = settings.JWT_ACCESS_COOKIE_NAME
    identity = member_from_access_cookie(scope_with(f"{name}={access}"))
    assert identity is not None and identity.member_id == user_id
    # The socket belongs to that one sign-in (revoking it closes the socket) and ends with the token.
    family = TokenFamily.objects.get(user_id=user_id)
    assert identity.credential == f"token-family:{family.pk}"
    assert identity.expires_at is not None and identity.expires_at > time.time()
    assert member_from_access_cookie({"cookies": {name: access}}) == identity
    assert member_from_access_cookie(scope_with(f"{name}=forged")) is None
    assert member_from_access_cookie(scope_with("")) is None
    # The refresh token is no access token.
    assert (
        member_from_access_cookie(scope_with(f"{name}={cookies[settings.JWT_REFRESH_COOKIE_NAME]}")) is None
    )

    csrf = cookies[settings.CSRF_COOKIE_NAME]
    assert spa.post("/api/v1/auth/token/revoke", headers={"X-CSRFToken": csrf}).status_code == 204
    assert member_from_access_cookie(scope_with(f"{name}={access}")) is None


# --- End to end: a uvicorn process, the real Redis layer and the test database -----------------------------


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    with override_settings(REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        with django_db_blocker.unblock():
            env = processes.child_env(REDIS_KEY_PREFIX=prefix, LOG_FORMAT="plain")
        port = processes.free_port()
        command = [
            str(processes.BIN_DIR / "uvicorn"),
            "config.asgi:application",
            "--host=127.0.0.1",
            f"--port={port}",
            "--lifespan=off",
        ]
        child = processes.start_child(
            "asgi-jwt", command, env=env, log_dir=tmp_path_factory.mktemp("jwt-ws"), port=port
        )
        yield child
        child.stop()


def first_frame_or_close(server: processes.Child, cookie: str) -> dict[str, Any] | int | None:
    """The first frame of a socket opened with ``cookie``, or the close code if it was closed instead."""
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/",
        additional_headers={"Cookie": cookie},
        origin=Origin(f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    ) as ws:
        try:
            frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        return frame


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_socket_with_only_the_access_cookie_is_accepted_and_a_revoked_one_refused(
    server: processes.Child,
) -> None:
    user_id, spa, cookies = cookie_sign_in()
    access = f"{settings.JWT_ACCESS_COOKIE_NAME}={cookies[settings.JWT_ACCESS_COOKIE_NAME]}"
    ready = first_frame_or_close(server, access)
    assert isinstance(ready, dict) and (ready["type"], ready["user_id"]) == ("ready", user_id)

    csrf = cookies[settings.CSRF_COOKIE_NAME]
    assert spa.post("/api/v1/auth/token/revoke", headers={"X-CSRFToken": csrf}).status_code == 204
    assert first_frame_or_close(server, access) == CLOSE_UNAUTHENTICATED
