"""Guests' pages from the cache (forum.pagecache): served again until a change they show commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from apps.thread import services
from apps.thread.tests.conftest import Tree
from apps.thread.tests.test_threads import Api, public
from forum import pagecache
from forum.testing.processes import free_port
from forum.tests.test_pages import Page


@pytest.fixture(autouse=True)
def page_cache(settings: Any, redis_namespace: str) -> None:
    settings.PAGE_CACHE_SECONDS = 300


def get(client: Client, url: str, **headers: str) -> tuple[bool, str]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get("X-Page-Cache") == "hit", response.content.decode()


def test_a_guest_page_is_served_again_until_a_new_post_commits(
    api_as: Api, tree: Tree, staff: int, member: int, committed: Callable[[], Any]
) -> None:
    with committed():
        thread = public(api_as, staff, tree.general, staff, title="Cached")
    guest = Client()
    for url in ("/", f"/forums/{tree.general}/", f"/threads/{thread['id']}/"):
        assert get(guest, url)[0] is False
        assert get(Client(), url)[0] is True, f"{url} is served from the cache to the next guest"

    with committed():
        services.post_create(author_id=member, thread_id=thread["id"], body="Fresh reply")
    hit, html = get(guest, f"/threads/{thread['id']}/")
    assert not hit and "Fresh reply" in html
    hit, html = get(guest, f"/forums/{tree.general}/")
    assert not hit and "1 reply" in html


def test_an_approval_shows_at_once_and_a_pending_thread_never_leaks(
    api_as: Api, tree: Tree, staff: int, member: int, committed: Callable[[], Any]
) -> None:
    guest = Client()
    get(guest, f"/forums/{tree.general}/")
    pending = (
        api_as(member)
        .post(
            f"/api/v1/forums/{tree.general}/threads", {"title": "Waiting room", "body": "Hi"}, format="json"
        )
        .json()
    )
    assert "Waiting room" not in get(guest, f"/forums/{tree.general}/")[1]
    with committed():
        services.thread_approve(moderator_id=staff, thread_id=pending["id"])
    hit, html = get(guest, f"/forums/{tree.general}/")
    assert not hit and "Waiting room" in html


def test_pinning_without_an_event_still_refreshes_the_list(
    api_as: Api, tree: Tree, staff: int, committed: Callable[[], Any]
) -> None:
    with committed():
        thread = public(api_as, staff, tree.general, staff, title="Pin me")
    guest = Client()
    get(guest, f"/forums/{tree.general}/")
    with committed():
        services.thread_pin(moderator_id=staff, thread_id=thread["id"])
    hit, html = get(guest, f"/forums/{tree.general}/")
    assert not hit and "Pinned" in html


def test_a_rolled_back_change_keeps_the_pages(tree: Tree, committed: Callable[[], Any]) -> None:
    get(Client(), "/")
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        pagecache.changed("thread")
        raise RuntimeError("rolled back")
    assert get(Client(), "/")[0] is True


@pytest.mark.django_db(transaction=True)
def test_changed_needs_a_transaction() -> None:
    with pytest.raises(pagecache.ChangeOutsideTransactionError):
        pagecache.changed("thread")


def test_members_are_never_served_a_cached_page(
    client: Client, django_user_model: Any, tree: Tree, member: int
) -> None:
    get(Client(), "/")
    client.force_login(django_user_model.objects.get(pk=member))
    hit, html = get(client, "/")
    assert not hit
    assert "Sign out" in html or "sign out" in html.lower()


def test_each_language_has_its_own_page(tree: Tree) -> None:
    get(Client(), "/", **{"Accept-Language": "ru"})
    hit, html = get(Client(), "/", **{"Accept-Language": "en"})
    assert not hit and "Welcome" in html
    hit, html = get(Client(), "/", **{"Accept-Language": "ru"})
    assert hit and "Добро пожаловать" in html


def test_a_cached_page_carries_the_visitors_own_csrf_token(tree: Tree) -> None:
    get(Client(), "/")
    visitor = Client(enforce_csrf_checks=True)
    response = visitor.get("/")
    assert response["X-Page-Cache"] == "hit"
    page = Page(response.content.decode())
    token = next(i["value"] for i in page.find("input") if i.get("name") == "csrfmiddlewaretoken")
    assert "\x00" not in response.content.decode()
    # The language switch on the cached page works for this visitor: their cookie and the page agree.
    switched = visitor.post("/i18n/setlang/", {"language": "ru", "next": "/", "csrfmiddlewaretoken": token})
    assert switched.status_code == 302
    # Another visitor's page has another token.
    other = Page(Client().get("/").content.decode())
    assert token not in [i.get("value") for i in other.find("input")]


def test_a_guest_with_a_message_waiting_gets_a_fresh_page(tree: Tree) -> None:
    get(Client(), "/")
    guest = Client()
    guest.cookies["messages"] = "anything"
    assert get(guest, "/")[0] is False


def test_pages_still_render_when_redis_is_down(settings: Any, tree: Tree) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    hit, html = get(Client(), "/")
    assert not hit and "Welcome" in html
