"""Every way a sign-in ends closes the WebSockets it opened, before the request that ended it answers.

End to end: a uvicorn process on the real Redis layer and the test database, sockets opened with a
session cookie or the SPA's access cookie, and the sign-in ended the way members end it (the sign-out
form, the API's revoke, a reused refresh token, a new password, the sessions list, an expiring access
token). After the ending request has answered, a private frame is sent to the member: the ended socket
must show its 4401 close and never that frame, while the member's other sign-ins keep theirs.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import uuid
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from apps.authorization.models import TokenFamily, WebSession
from forum.realtime import CLOSE_UNAUTHENTICATED, SocketIdentity, send_to_user
from forum.realtime.auth import identity_still_valid, session_credential
from forum.testing import processes

PASSWORD = "Quiet-Harbour-Lantern-71"
NEW_PASSWORD = "Amber-Orchard-Compass-93"
# A safety net so that a broken gateway fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 15.0

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
            "asgi-revocation", command, env=env, log_dir=tmp_path_factory.mktemp("revocation"), port=port
        )
        yield child
        child.stop()


def new_member() -> Any:
    return get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:12]}", password=PASSWORD)


def site_sign_in(user: Any) -> Client:
    """A browser signed in through the sign-in form."""
    browser = Client()
    response = browser.post("/accounts/signin/", {"login": user.get_username(), "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return browser


def spa_sign_in(user: Any, password: str = PASSWORD) -> tuple[Client, dict[str, str]]:
    """The SPA's sign-in with the cookie transport: its client and the cookies it got."""
    spa = Client()
    response = spa.post(
        "/api/v1/auth/token",
        {"login": user.get_username(), "password": password},
        content_type="application/json",
        headers={"X-Token-Transport": "cookie"},
    )
    assert response.status_code == 200, response.content
    return spa, {name: morsel.value for name, morsel in response.cookies.items()}


def session_cookie(browser: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


def access_cookie(cookies: dict[str, str]) -> str:
    return f"{settings.JWT_ACCESS_COOKIE_NAME}={cookies[settings.JWT_ACCESS_COOKIE_NAME]}"


@contextlib.contextmanager
def open_ready(server: processes.Child, cookie: str, user_id: int) -> Iterator[ClientConnection]:
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/",
        additional_headers={"Cookie": cookie},
        origin=Origin(f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    ) as ws:
        ready = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
        assert (ready["type"], ready["user_id"]) == ("ready", user_id)
        yield ws


def private_frame(user_id: int) -> str:
    """Send the member a private frame and return its marker."""
    marker = uuid.uuid4().hex
    send_to_user(user_id, "dialog.message_created", {"html": f"<p>secret {marker}</p>"})
    return marker


def frames_until_close(ws: ClientConnection) -> tuple[list[str], int | None]:
    """Every frame the socket still gets, and the close code it ends with."""
    frames: list[str] = []
    try:
        while True:
            frames.append(str(ws.recv(timeout=RECEIVE_TIMEOUT)))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd is not None else None


def gets(ws: ClientConnection, marker: str) -> bool:
    """Whether the socket (still up) receives the frame carrying ``marker``."""
    while True:
        frame = str(ws.recv(timeout=RECEIVE_TIMEOUT))
        if marker in frame:
            return True


def assert_ended_before_the_frame(ended: ClientConnection, user_id: int, *others: ClientConnection) -> None:
    """The ending request has answered: a private frame sent now reaches the member's other sockets,
    and the ended one only shows its 4401 close."""
    marker = private_frame(user_id)
    for other in others:
        assert gets(other, marker)
    frames, code = frames_until_close(ended)
    assert code == CLOSE_UNAUTHENTICATED
    assert not any(marker in frame for frame in frames)


def test_signing_out_on_the_site_closes_that_sessions_sockets_only(server: processes.Child) -> None:
    user = new_member()
    leaving, staying = site_sign_in(user), site_sign_in(user)
    with (
        open_ready(server, session_cookie(leaving), user.pk) as ended,
        open_ready(server, session_cookie(leaving), user.pk) as ended_too,
        open_ready(server, session_cookie(staying), user.pk) as other,
    ):
        assert leaving.post("/accounts/signout/").status_code == 302
        assert_ended_before_the_frame(ended, user.pk, other)
        assert frames_until_close(ended_too)[1] == CLOSE_UNAUTHENTICATED


def test_the_api_sign_out_of_a_session_closes_its_sockets(server: processes.Child) -> None:
    user = new_member()
    browser, other_browser = site_sign_in(user), site_sign_in(user)
    with (
        open_ready(server, session_cookie(browser), user.pk) as ended,
        open_ready(server, session_cookie(other_browser), user.pk) as other,
    ):
        csrf = (
            browser.cookies[settings.CSRF_COOKIE_NAME].value
            if settings.CSRF_COOKIE_NAME in browser.cookies
            else ""
        )
        assert browser.post("/api/v1/auth/signout", headers={"X-CSRFToken": csrf}).status_code == 204
        assert_ended_before_the_frame(ended, user.pk, other)


def test_revoking_a_token_family_closes_the_sockets_of_its_access_cookie(server: processes.Child) -> None:
    user = new_member()
    spa, cookies = spa_sign_in(user)
    browser = site_sign_in(user)
    with (
        open_ready(server, access_cookie(cookies), user.pk) as ended,
        open_ready(server, session_cookie(browser), user.pk) as other,
    ):
        csrf = cookies[settings.CSRF_COOKIE_NAME]
        assert spa.post("/api/v1/auth/token/revoke", headers={"X-CSRFToken": csrf}).status_code == 204
        assert_ended_before_the_frame(ended, user.pk, other)


def test_a_reused_refresh_token_closes_the_familys_sockets(server: processes.Child) -> None:
    user = new_member()
    spa, cookies = spa_sign_in(user)
    stolen = cookies[settings.JWT_REFRESH_COOKIE_NAME]
    rotated = spa.post(
        "/api/v1/auth/token/refresh", headers={"X-CSRFToken": cookies[settings.CSRF_COOKIE_NAME]}
    )
    assert rotated.status_code == 200, rotated.content
    fresh = {name: morsel.value for name, morsel in rotated.cookies.items()}
    browser = site_sign_in(user)
    with (
        open_ready(server, access_cookie({**cookies, **fresh}), user.pk) as ended,
        open_ready(server, session_cookie(browser), user.pk) as other,
    ):
        reuse = Client().post(
            "/api/v1/auth/token/refresh", {"refresh": stolen}, content_type="application/json"
        )
        assert (reuse.status_code, reuse.json()["error"]["code"]) == (401, "token_reused")
        assert_ended_before_the_frame(ended, user.pk, other)


def test_a_new_password_closes_every_socket_and_refuses_old_tokens_in_the_same_request(
    server: processes.Child,
) -> None:
    user = new_member()
    browser = site_sign_in(user)
    elsewhere = site_sign_in(user)
    spa, cookies = spa_sign_in(user)
    bearer = Client().post(
        "/api/v1/auth/token",
        {"login": user.get_username(), "password": PASSWORD},
        content_type="application/json",
    )
    old_access = bearer.json()["access"]
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {old_access}"}).status_code == 200
    with (
        open_ready(server, session_cookie(elsewhere), user.pk) as other_session,
        open_ready(server, access_cookie(cookies), user.pk) as spa_socket,
    ):
        changed = browser.post(
            "/accounts/settings/password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 302, changed.content[:800]
        # No worker runs in this test: the old tokens are refused by the request that changed it.
        refused = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {old_access}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "token_revoked")
        assert spa.get("/api/v1/me").status_code in (401, 403)
        marker = private_frame(user.pk)
        for ended in (other_session, spa_socket):
            frames, code = frames_until_close(ended)
            assert code == CLOSE_UNAUTHENTICATED
            assert not any(marker in frame for frame in frames)
    # The browser that changed it stays signed in and opens a socket again.
    with open_ready(server, session_cookie(browser), user.pk):
        pass


def test_ending_one_session_in_the_list_closes_only_its_sockets(server: processes.Child) -> None:
    user = new_member()
    browser, other_browser = site_sign_in(user), site_sign_in(user)
    _spa, cookies = spa_sign_in(user)
    browser.get("/")
    other_browser.get("/")  # the sessions list knows a session once it made a request
    record = WebSession.objects.get(session_key=other_browser.cookies[settings.SESSION_COOKIE_NAME].value)
    family = TokenFamily.objects.get(user=user, revoked_at__isnull=True)
    with (
        open_ready(server, session_cookie(browser), user.pk) as mine,
        open_ready(server, session_cookie(other_browser), user.pk) as ended_session,
        open_ready(server, access_cookie(cookies), user.pk) as ended_family,
    ):
        assert browser.delete(f"/api/v1/me/sessions/{record.pk}").status_code == 204
        assert_ended_before_the_frame(ended_session, user.pk, mine, ended_family)
        assert browser.delete(f"/api/v1/me/sessions/{family.pk}").status_code == 204
        assert_ended_before_the_frame(ended_family, user.pk, mine)


def test_a_socket_of_an_access_cookie_closes_when_the_token_expires(server: processes.Child) -> None:
    user = new_member()
    jwt = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": datetime.timedelta(seconds=3)}
    with override_settings(SIMPLE_JWT=jwt):
        _spa, cookies = spa_sign_in(user)
    with open_ready(server, access_cookie(cookies), user.pk) as expiring:
        frames, code = frames_until_close(expiring)
    assert code == CLOSE_UNAUTHENTICATED
    assert frames == []


def test_a_sign_out_racing_the_handshake_is_caught_when_the_socket_asks_again() -> None:
    """The handshake's check passed, then the session ended before the socket joined its groups."""
    user = new_member()
    browser = site_sign_in(user)
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    scope = {"session": store}
    identity = SocketIdentity(user.pk, session_credential(key))
    # async_to_sync, not asyncio.run: the check's database_sync_to_async then runs in this thread, on
    # the test's connection, not in asgiref's executor thread, whose connection would outlive the test
    # and keep the test database from being dropped at the end of the run.
    still_valid = async_to_sync(identity_still_valid)
    assert still_valid(scope, identity)
    browser.post("/accounts/signout/")
    assert not still_valid(scope, identity)
