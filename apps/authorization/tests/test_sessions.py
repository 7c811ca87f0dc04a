"""The sessions list and ending sessions, through the API and the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db

PASSWORD = "Quiet-Harbour-Lantern-71"
SESSIONS = "/api/v1/me/sessions"
PAGE = "/accounts/sessions/"


@pytest.fixture
def username(make_member: Callable[..., int]) -> str:
    user = get_user_model().objects.get(pk=make_member())
    user.set_password(PASSWORD)
    user.save()
    return str(user.get_username())


def browser(username: str, agent: str, ip: str) -> Client:
    """A browser signed in through the sign-in page, as a person would."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post("/accounts/signin/", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def token_pair(username: str, agent: str = "ForumApp/2.1 (Android 15)") -> dict[str, Any]:
    response = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR="198.51.100.9").post(
        "/api/v1/auth/token", {"login": username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    pair: dict[str, Any] = response.json()
    return pair


def listed(client: Client, **headers: str) -> list[dict[str, Any]]:
    response = client.get(SESSIONS, headers=headers)
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()["sessions"]
    return rows


def test_the_list_shows_web_sessions_and_token_sign_ins_with_device_ip_and_last_seen(
    username: str, clock: Clock
) -> None:
    laptop = browser(username, "Firefox/140 on Linux", "203.0.113.5")
    clock.move(minutes=5)
    phone = browser(username, "Safari on iPhone", "203.0.113.77")
    token_pair(username)

    rows = listed(laptop)
    assert len(rows) == 3
    current = rows[0]
    assert (current["kind"], current["current"], current["device"], current["ip"]) == (
        "web",
        True,
        "Firefox/140 on Linux",
        "203.0.113.5",
    )
    others = {row["device"]: row for row in rows[1:]}
    assert others["Safari on iPhone"]["ip"] == "203.0.113.77" and not others["Safari on iPhone"]["current"]
    assert others["ForumApp/2.1 (Android 15)"]["kind"] == "token"
    assert others["ForumApp/2.1 (Android 15)"]["ip"] == "198.51.100.9"
    assert rows[0]["created_at"] < others["Safari on iPhone"]["created_at"]
    assert others["Safari on iPhone"]["last_seen_at"] == others["Safari on iPhone"]["created_at"]
    assert phone.get("/").status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(username: str, clock: Clock) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    first = listed(laptop)[0]["last_seen_at"]
    clock.move(seconds=30)
    assert listed(laptop)[0]["last_seen_at"] == first
    clock.move(seconds=31)
    laptop.get("/")
    assert listed(laptop)[0]["last_seen_at"] > first


def test_the_token_of_the_call_is_marked_current(username: str) -> None:
    browser(username, "Firefox", "203.0.113.5")
    pair = token_pair(username)
    rows = listed(Client(), Authorization=f"Bearer {pair['access']}")
    assert [(row["kind"], row["current"]) for row in rows] == [("token", True), ("web", False)]


def test_ending_a_web_session_signs_that_browser_out(username: str) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    phone = browser(username, "Safari", "203.0.113.77")
    phone_id = next(row["id"] for row in listed(laptop) if row["device"] == "Safari")

    assert laptop.delete(f"{SESSIONS}/{phone_id}").status_code == 204
    assert phone.get(SESSIONS).status_code == 401  # signed out: anonymous again
    assert [row["device"] for row in listed(laptop)] == ["Firefox"]
    assert laptop.delete(f"{SESSIONS}/{phone_id}").status_code == 404


def test_ending_a_token_sign_in_revokes_it(username: str) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    pair = token_pair(username)
    family = next(row["id"] for row in listed(laptop) if row["kind"] == "token")
    assert laptop.delete(f"{SESSIONS}/{family}").status_code == 204
    assert Client().get(SESSIONS, headers={"Authorization": f"Bearer {pair['access']}"}).status_code == 401


def test_end_all_others_keeps_only_the_asking_session(username: str) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    phone = browser(username, "Safari", "203.0.113.77")
    pair = token_pair(username)
    response = laptop.post(f"{SESSIONS}/end-others")
    assert response.json() == {"ended": 2}
    assert [row["device"] for row in listed(laptop)] == ["Firefox"]
    assert phone.get(SESSIONS).status_code == 401
    assert Client().get(SESSIONS, headers={"Authorization": f"Bearer {pair['access']}"}).status_code == 401


def test_a_member_can_neither_see_nor_end_anothers_sessions(
    username: str, make_member: Callable[..., int]
) -> None:
    victim = browser(username, "Firefox", "203.0.113.5")
    victim_session = listed(victim)[0]["id"]
    intruder = Client()
    intruder.force_login(get_user_model().objects.get(pk=make_member()))
    assert all(row["id"] != victim_session for row in listed(intruder))
    refused = intruder.delete(f"{SESSIONS}/{victim_session}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    assert intruder.post(f"/accounts/sessions/{victim_session}/end/").status_code == 404
    assert victim.get(SESSIONS).status_code == 200
    assert intruder.delete(f"{SESSIONS}/not-a-uuid").status_code == 404


def test_a_session_cut_off_by_a_password_change_is_not_listed(username: str) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    browser(username, "Safari", "203.0.113.77")
    user = get_user_model().objects.get(username=username)
    user.set_password("Another-Long-Password-42")
    user.save()
    laptop.force_login(user)  # signed in again with the new hash
    assert [row["device"] for row in listed(laptop)] == ["Firefox"]


def test_a_guest_is_refused(client: Client) -> None:
    assert client.get(SESSIONS).status_code == 401
    assert client.get(PAGE).status_code == 302


# --- The page --------------------------------------------------------------------------------------------


def test_the_page_lists_sessions_and_ends_them_with_forms(username: str) -> None:
    laptop = browser(username, "Firefox/140 on Linux", "203.0.113.5")
    phone = browser(username, "Safari on iPhone", "203.0.113.77")
    page = laptop.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Safari on iPhone" in html and "203.0.113.77" in html and "this device" in html
    assert 'name="csrfmiddlewaretoken"' in html

    phone_id = next(row["id"] for row in listed(laptop) if row["device"] == "Safari on iPhone")
    ended = laptop.post(f"/accounts/sessions/{phone_id}/end/", follow=True)
    assert "The session has been ended." in ended.content.decode()
    assert phone.get(SESSIONS).status_code == 401

    browser(username, "Chrome", "203.0.113.8")
    everyone = laptop.post("/accounts/sessions/end-others/", follow=True)
    assert "1 other session has been ended." in everyone.content.decode()


def test_the_page_forms_need_the_csrf_token(username: str) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username=username))
    assert strict.post("/accounts/sessions/end-others/").status_code == 403


def test_signing_out_here_from_the_page(username: str) -> None:
    laptop = browser(username, "Firefox", "203.0.113.5")
    own = listed(laptop)[0]["id"]
    response = laptop.post(f"/accounts/sessions/{own}/end/")
    assert response.status_code == 302
    assert laptop.get(SESSIONS).status_code == 401
