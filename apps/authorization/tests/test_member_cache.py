"""What every signed-in request reads of its member (session, account, permission facts, the header's
counts) comes from Redis once warm (forum.member_cache, forum.session_store), and every change is seen
by the member's next request: a password change, a ban, a role, a status granted or run out; with
Redis down, pages still work from PostgreSQL."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import (
    StatusPermissions,
    access_ban_lift,
    access_ban_set,
    access_statuses_set,
    permission_scope,
    permissions_for,
    role_assign,
)
from forum import cache_client, member_cache
from forum.testing.fixtures import Clock
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_faults import redis_behind_proxy, redis_proxy  # noqa: F401  fixtures

pytestmark = pytest.mark.django_db

PERMISSIONS = "/api/v1/me/permissions"

# What each of the five reads looks like in SQL (a page's own queries are not these).
EVERY_REQUEST_READS = {
    "session": 'FROM "django_session"',
    "account": 'FROM "authentication_user" WHERE "id" =',
    "permission facts": 'a."restrictions" FROM',
    "dialogs badge": 'count(*) FROM "dialog_participant" WHERE "user_id" =',
    "notifications count": 'count(*) FROM "notification_notification" WHERE "recipient_id" =',
}


@pytest.fixture(autouse=True)
def kept(settings: Any, redis_namespace: str) -> Iterator[None]:
    settings.KEPT_PARTS_SECONDS = 300
    member_cache.breaker.reset()
    yield
    member_cache.breaker.reset()


def browser(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def reads(client: Client, url: str = "/") -> set[str]:
    """Which of the five reads a request made."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    sql = [query["sql"] for query in captured.captured_queries]
    return {name for name, text in EVERY_REQUEST_READS.items() if any(text in query for query in sql)}


def permissions(client: Client) -> dict[str, Any]:
    response = client.get(PERMISSIONS)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_a_warm_member_page_reads_none_of_them_from_the_database(
    make_member: Callable[..., int], settings: Any
) -> None:
    member = make_member()
    client = browser(member)  # the session is kept in Redis as it is saved
    assert reads(client) == set(EVERY_REQUEST_READS) - {"session"}  # the first request keeps the rest
    assert reads(client) == set()
    assert reads(client, f"/members/{member}/") == set()
    settings.KEPT_PARTS_SECONDS = 0  # the mechanism off: all five again, every time
    assert reads(client) == set(EVERY_REQUEST_READS)
    assert reads(client) == set(EVERY_REQUEST_READS)


def test_a_warm_request_reads_its_member_in_the_round_trip_of_its_session(
    make_member: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    member = make_member()
    client = browser(member)
    client.get("/")
    fetched: list[list[str]] = []
    fetch = cache_client.get_many

    def get_many(keys: list[str]) -> dict[str, Any]:
        fetched.append(list(keys))
        return fetch(keys)

    monkeypatch.setattr(cache_client, "get_many", get_many)
    assert reads(client) == set()
    # Account, facts and counts came with the session: no other read names the member (the page's own
    # kept parts, such as the forum tree's versions, are read through the same client).
    mine = re.compile(rf"(^|[^0-9]){member}($|[^0-9])")
    assert [keys for keys in fetched if any(mine.search(key.split(":", 1)[-1]) for key in keys)] == []


def test_members_do_not_share_what_is_kept(make_member: Callable[..., int]) -> None:
    alice, bob = make_member(), make_member()
    for _ in range(2):
        assert permissions(browser(alice))["user_id"] == alice
        assert permissions(browser(bob))["user_id"] == bob


def test_a_password_change_signs_the_other_sessions_out_at_once(
    make_member: Callable[..., int], committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    member = make_member()
    laptop, phone = browser(member), browser(member)
    for client in (laptop, phone, laptop, phone):
        assert client.get("/accounts/sessions/").status_code == 200  # warm: kept in Redis
    with committed():
        user = get_user_model().objects.get(pk=member)
        user.set_password("Quiet-Harbour-Lantern-71")
        user.save(update_fields=["password"])
    assert phone.get("/accounts/sessions/").status_code == 302  # signed out
    assert laptop.get("/accounts/sessions/").status_code == 302


def test_a_deactivated_account_is_signed_out_at_once(
    make_member: Callable[..., int], committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    member = make_member()
    client = browser(member)
    assert client.get("/accounts/sessions/").status_code == 200
    assert client.get("/accounts/sessions/").status_code == 200
    with committed():
        user = get_user_model().objects.get(pk=member)
        user.is_active = False
        user.save()
    assert client.get("/accounts/sessions/").status_code == 302


def test_a_ban_and_its_lifting_are_seen_by_the_next_request(
    make_member: Callable[..., int], committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    member = make_member()
    client = browser(member)
    assert permissions(client)["banned"] is False
    assert permissions(client)["banned"] is False  # kept
    with committed():
        access_ban_set(user_id=member)
    assert permissions(client)["banned"] is True
    assert permissions(client)["banned"] is True
    with committed():
        access_ban_lift(user_id=member)
    assert permissions(client)["banned"] is False


def test_a_role_change_is_seen_by_the_next_request(
    make_member: Callable[..., int], committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    member = make_member()
    client = browser(member)
    assert permissions(client)["role"] == "user"
    assert permissions(client)["role"] == "user"
    with committed():
        role_assign(user_id=member, role="support")
    assert permissions(client)["role"] == "support"


def test_a_status_granted_is_seen_at_once_and_its_end_on_time(
    make_member: Callable[..., int], committed: Callable[[], AbstractContextManager[Any]], clock: Clock
) -> None:
    member = make_member()
    client = browser(member)
    assert permissions(client)["statuses"] == []
    assert permissions(client)["statuses"] == []
    with committed():
        access_statuses_set(
            user_id=member,
            grants=[
                StatusPermissions(
                    status_code="patron",
                    values={},
                    starts_at=clock.now - datetime.timedelta(minutes=1),
                    ends_at=clock.now + datetime.timedelta(minutes=10),
                )
            ],
        )
    assert permissions(client)["statuses"] == ["patron"]
    assert permissions(client)["statuses"] == ["patron"]
    # The kept facts hold the grant's end; it is weighed against the clock at each request.
    clock.move(minutes=11)
    assert permissions(client)["statuses"] == []


def test_a_change_made_by_the_request_itself_is_seen_by_the_rest_of_it(
    make_member: Callable[..., int],
) -> None:
    member = make_member()
    with member_cache.member_scope():
        assert permissions_role(member) == "user"
        role_assign(user_id=member, role="admin")
        assert permissions_role(member) == "admin"


def permissions_role(member: int) -> str:
    with permission_scope():
        role = permissions_for(user_id=member).role
    assert role is not None
    return str(role.value)


def test_with_redis_down_pages_work_from_the_database_and_changes_still_show(
    make_member: Callable[..., int],
    redis_behind_proxy: TcpProxy,  # noqa: F811  the fixture
    committed: Callable[[], AbstractContextManager[Any]],
) -> None:
    member = make_member()
    client = browser(member)
    assert reads(client) == set(EVERY_REQUEST_READS) - {"session"}
    assert reads(client) == set()  # kept in Redis
    redis_behind_proxy.cut()
    assert reads(client) == set(EVERY_REQUEST_READS)  # still signed in, from PostgreSQL
    with committed():
        access_ban_set(user_id=member)  # its new version cannot be started now
    assert permissions(client)["banned"] is True
    redis_behind_proxy.restore()
    # Back: the version left waiting is started before anything kept is served.
    assert permissions(client)["banned"] is True
    assert permissions(client)["banned"] is True
