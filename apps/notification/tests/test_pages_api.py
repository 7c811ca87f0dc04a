"""The surfaces: the bell, the dropdown fragment, the notifications page and API (marking read,
filtering, nobody else's), watch buttons on thread and forum pages, and their query counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.authorization.services import role_assign
from apps.notification import services
from apps.notification.models import Notification
from apps.notification.tests.conftest import Handler, Member, Tree, start_thread
from apps.status.services import status_grant
from apps.thread import services as threads
from forum.tests.test_pages import Page

Web = Callable[[int | None], Client]
Api = Callable[[int | None], APIClient]


def queries(client: Client | APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def replies(tree: Tree, author: int, replier: int, handle: Handler, count: int) -> int:
    """``count`` replies by ``replier`` in a thread of ``author`` (who watches it); the thread's id."""
    thread_id, _first = start_thread(author, tree.general, title="Boats")
    for number in range(count):
        threads.post_create(author_id=replier, thread_id=thread_id, body=f"reply {number}")
    handle()
    return thread_id


# --- The bell and the dropdown ------------------------------------------------------------------------


def test_the_bell_shows_the_unread_count_and_links_to_the_page_without_javascript(
    tree: Tree, alice: int, bob: int, handle: Handler, web_as: Web
) -> None:
    page = Page(web_as(alice).get("/").content.decode())
    links = [a for a in page.find("a") if a.get("href") == "/notifications/"]
    assert links, "the bell is a plain link to the notifications page"
    count = [span for span in page.find("span") if "data-notification-count" in span]
    assert len(count) == 1 and "hidden" in count[0]

    replies(tree, alice, bob, handle, 2)
    html = web_as(alice).get("/").content.decode()
    assert 'data-notification-count title="Unread notifications">2</span>' in html
    page = Page(html)
    assert "/static/notification/bell.js" in [script["src"] for script in page.find("script")]
    assert page.inline_scripts == [] and not [attrs for _tag, attrs in page.elements if "style" in attrs]
    # Guests have no bell.
    assert "data-notification-bell" not in Client().get("/").content.decode()


def test_the_dropdown_is_a_fragment_of_the_latest(
    tree: Tree, alice: int, bob: int, handle: Handler, web_as: Web
) -> None:
    replies(tree, alice, bob, handle, 3)
    response = web_as(alice).get("/notifications/dropdown/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<header" not in html  # a fragment, no layout
    assert html.count('class="notification-item notification-item--unread"') == 3
    assert 'action="/notifications/read-all/"' in html
    assert web_as(None).get("/notifications/dropdown/").status_code == 302


# --- The page -----------------------------------------------------------------------------------------


def test_the_page_lists_filters_and_marks_read(
    tree: Tree, alice: int, bob: int, handle: Handler, web_as: Web, member_with_mail: Member
) -> None:
    replies(tree, alice, bob, handle, 2)
    carol = member_with_mail()
    _other, first_post = start_thread(alice, tree.other, title="Cats")
    threads.reaction_set(user_id=carol, post_id=first_post, kind="like")
    handle()
    client = web_as(alice)

    page = Page(client.get("/notifications/").content.decode())
    assert "Cats" in page.text and "Boats" in page.text
    only = Page(client.get("/notifications/?kind=thread.reaction").content.decode())
    assert "Cats" in only.text and "Boats" not in only.text
    assert Page(client.get("/notifications/?kind=nonsense").content.decode()).text.count("replied in") == 2

    row = Notification.objects.filter(recipient_id=alice, kind="thread.reply").first()
    assert row is not None
    response = client.post(f"/notifications/{row.pk}/read/", {"next": "/notifications/"})
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert services.unread_count(user_id=alice) == 2

    # Following a notification reads it and leads to what it is about.
    other = Notification.objects.filter(recipient_id=alice, kind="thread.reply", read_at__isnull=True).first()
    assert other is not None
    opened = client.get(f"/notifications/{other.pk}/open/")
    assert opened.status_code == 302 and opened["Location"] == f"/posts/{other.post_id}/"
    assert services.unread_count(user_id=alice) == 1

    assert client.post("/notifications/read-all/").status_code == 302
    assert services.unread_count(user_id=alice) == 0


def test_another_member_can_neither_see_nor_mark_my_notifications(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler, web_as: Web, api_as: Api
) -> None:
    replies(tree, alice, bob, handle, 1)
    mine = Notification.objects.get(recipient_id=alice)
    assert web_as(carol).get(f"/notifications/{mine.pk}/open/").status_code == 404
    assert web_as(carol).post(f"/notifications/{mine.pk}/read/").status_code == 404
    assert api_as(carol).post(f"/api/v1/notifications/{mine.pk}/read").status_code == 404
    assert api_as(carol).post("/api/v1/notifications/999999999/read").status_code == 404
    assert "Boats" not in web_as(carol).get("/notifications/").content.decode()
    assert api_as(carol).get("/api/v1/notifications").json()["total"] == 0
    mine.refresh_from_db()
    assert mine.read_at is None
    # Guests are sent to sign in (pages) or refused (API).
    assert web_as(None).get("/notifications/").status_code == 302
    assert api_as(None).get("/api/v1/notifications").status_code in {401, 403}


def test_the_api_lists_counts_and_marks(
    tree: Tree, alice: int, bob: int, handle: Handler, api_as: Api
) -> None:
    replies(tree, alice, bob, handle, 3)
    api = api_as(alice)
    body = api.get("/api/v1/notifications").json()
    assert (body["total"], body["unread_count"], body["page"], body["pages"]) == (3, 3, 1, 1)
    item = body["notifications"][0]
    assert item["kind"] == "thread.reply" and item["actor_ids"] == [bob] and item["is_unread"] is True
    assert item["url"] == f"/posts/{item['post_id']}/"
    assert api.get("/api/v1/notifications/unread-count").json() == {"unread_count": 3}
    assert api.post(f"/api/v1/notifications/{item['id']}/read").json() == {"unread_count": 2}
    assert api.post("/api/v1/notifications/read-all", {"kind": "thread.reply"}, format="json").json() == {
        "marked": 2,
        "unread_count": 0,
    }
    assert api.get("/api/v1/notifications?kind=thread.mention").json()["total"] == 0


@pytest.mark.parametrize("url", ["/notifications/", "/notifications/dropdown/", "/api/v1/notifications", "/"])
def test_the_lists_cost_the_same_queries_for_one_notification_or_many(
    url: str,
    tree: Tree,
    alice: int,
    bob: int,
    member_with_mail: Member,
    handle: Handler,
    web_as: Web,
    api_as: Api,
) -> None:
    thread_id = replies(tree, alice, bob, handle, 1)
    client: Client | APIClient = api_as(alice) if url.startswith("/api/") else web_as(alice)
    queries(client, url)  # the first request of a client loads what later ones keep
    one = queries(client, url)
    for _ in range(25):
        other = member_with_mail()
        threads.post_create(author_id=other, thread_id=thread_id, body="me too")
        mine = threads.post_create(author_id=alice, thread_id=thread_id, body="thanks")
        threads.reaction_set(user_id=other, post_id=mine.id, kind="like")
    handle()
    assert Notification.objects.filter(recipient_id=alice).count() > 40
    assert queries(client, url) == one


# --- Watching -----------------------------------------------------------------------------------------


def test_watch_and_unwatch_buttons_on_the_thread_and_forum_pages(
    tree: Tree, alice: int, bob: int, handle: Handler, web_as: Web
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    handle()
    client = web_as(bob)
    page = client.get(f"/threads/{thread_id}/").content.decode()
    assert f'action="/notifications/watch/thread/{thread_id}/"' in page
    response = client.post(f"/notifications/watch/thread/{thread_id}/", {"next": f"/threads/{thread_id}/"})
    assert response.status_code == 302 and response["Location"] == f"/threads/{thread_id}/"
    page = client.get(f"/threads/{thread_id}/").content.decode()
    assert f'action="/notifications/unwatch/thread/{thread_id}/"' in page
    assert services.watch_list(user_id=bob).threads[0].target_id == thread_id

    # With htmx, the button swaps itself.
    swapped = client.post(f"/notifications/unwatch/thread/{thread_id}/", headers={"HX-Request": "true"})
    assert swapped.status_code == 200
    assert f'action="/notifications/watch/thread/{thread_id}/"' in swapped.content.decode()
    assert services.watch_list(user_id=bob).threads == ()

    forum_page = client.get(f"/forums/{tree.general}/").content.decode()
    assert f'action="/notifications/watch/forum/{tree.general}/"' in forum_page
    client.post(f"/notifications/watch/forum/{tree.general}/")
    assert [item.title for item in services.watch_list(user_id=bob).forums] == ["General"]
    # The preferences page lists what is watched.
    assert "General" in client.get("/notifications/preferences/").content.decode()
    # Guests see no button.
    assert "/notifications/watch/" not in Client().get(f"/threads/{thread_id}/").content.decode()


def test_the_watch_button_costs_one_query_whatever_the_page_holds(
    tree: Tree, alice: int, bob: int, handle: Handler, web_as: Web
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    client = web_as(bob)
    queries(client, f"/threads/{thread_id}/")  # the first visit also records where Bob has read to
    one = queries(client, f"/threads/{thread_id}/")
    for number in range(15):
        threads.post_create(author_id=alice, thread_id=thread_id, body=f"post {number}")
    queries(client, f"/threads/{thread_id}/")  # moves Bob's read mark over the new posts
    assert queries(client, f"/threads/{thread_id}/") == one


def test_what_a_member_may_not_see_cannot_be_watched(
    tree: Tree, member_with_mail: Member, bob: int, web_as: Web, api_as: Api
) -> None:
    agent = member_with_mail()
    status_grant(user_id=agent, status_code="agent", source="staff")
    secret, _first = start_thread(agent, tree.exclusive)
    assert web_as(bob).post(f"/notifications/watch/thread/{secret}/").status_code == 404
    assert web_as(bob).post(f"/notifications/watch/forum/{tree.exclusive}/").status_code == 404
    assert web_as(bob).post("/notifications/watch/thread/999999999/").status_code == 404
    assert api_as(bob).put(f"/api/v1/notifications/watch/threads/{secret}").status_code == 404
    assert api_as(bob).get(f"/api/v1/notifications/watch/forums/{tree.exclusive}").status_code == 404
    assert services.watch_list(user_id=bob) == services.WatchList(threads=(), forums=())


def test_the_watch_api(tree: Tree, alice: int, bob: int, api_as: Api) -> None:
    thread_id, _first = start_thread(alice, tree.general, title="Boats")
    api = api_as(bob)
    assert api.get(f"/api/v1/notifications/watch/threads/{thread_id}").json() == {"watching": False}
    assert api.put(f"/api/v1/notifications/watch/threads/{thread_id}").json() == {"watching": True}
    assert api.put(f"/api/v1/notifications/watch/forums/{tree.other}").json() == {"watching": True}
    assert api.get("/api/v1/notifications/watching").json() == {
        "threads": [{"target_id": thread_id, "title": "Boats"}],
        "forums": [{"target_id": tree.other, "title": "Other"}],
    }
    assert api.delete(f"/api/v1/notifications/watch/threads/{thread_id}").json() == {"watching": False}
    assert api.get(f"/api/v1/notifications/watch/threads/{thread_id}").json() == {"watching": False}


# --- The admin ----------------------------------------------------------------------------------------


def test_support_looks_up_settings_and_sees_the_registry(
    alice: int, make_member: Callable[..., int], django_user_model: Any
) -> None:
    support = make_member()
    role_assign(user_id=support, role="support")
    services.preferences_update(user_id=alice, kinds={"thread.reply": {"email": "off"}})
    client = Client()
    client.force_login(django_user_model.objects.get(pk=support))
    listing = client.get(
        "/admin/notification/membersettings/", {"q": django_user_model.objects.get(pk=alice).username}
    )
    assert listing.status_code == 200
    change = client.get(f"/admin/notification/membersettings/{alice}/change/")
    assert change.status_code == 200
    assert (
        "the member&#x27;s choice" in change.content.decode()
        or "the member's choice" in change.content.decode()
    )
    kinds = client.get("/admin/notification/membersettings/kinds/")
    assert kinds.status_code == 200 and "thread.reaction" in kinds.content.decode()
    # Nothing is edited here.
    assert client.post(f"/admin/notification/membersettings/{alice}/change/", {}).status_code == 403
