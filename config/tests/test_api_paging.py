"""Every paged list of the API, as the OpenAPI schema lists them, reads ``?page=`` the same exact way: a
value that is no page number is a 400 naming the field ``page``; a page past the end is an empty page
that still tells the total. A list added later is checked without touching this test."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.thread.services import forum_create, thread_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller_and_ids() -> tuple[APIClient, dict[str, int]]:
    """A superuser (every list is theirs to read) and the ids the lists' paths take."""
    admin = get_user_model().objects.create_superuser(username="paging-admin", password=None)
    category = forum_create(name="Paging", kind="category").id
    forum = forum_create(name="Paged forum", parent_id=category).id
    thread = thread_create(author_id=admin.pk, forum_id=forum, title="Paged", body="one post")
    client = APIClient()
    client.force_authenticate(admin)
    return client, {"forum_id": forum, "thread_id": thread.id, "user_id": admin.pk}


def paged_lists() -> list[str]:
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    return [
        route
        for route, methods in schema["paths"].items()
        if any(parameter["name"] == "page" for parameter in methods.get("get", {}).get("parameters", []))
    ]


def test_the_schema_lists_the_paged_lists() -> None:
    found = set(paged_lists())
    assert {
        "/api/v1/forums/{forum_id}/threads",
        "/api/v1/threads/{thread_id}/posts",
        "/api/v1/members/{user_id}/threads",
        "/api/v1/members/{user_id}/posts",
        "/api/v1/bookmarks",
        "/api/v1/moderation/threads",
        "/api/v1/dialogs",
        "/api/v1/notifications",
    } <= found


@pytest.mark.parametrize("page", ["abc", "0", "-1", "", "2.0", "1000001"])
def test_a_value_that_is_no_page_number_is_refused_naming_the_field(
    caller_and_ids: tuple[APIClient, dict[str, int]], page: str
) -> None:
    client, ids = caller_and_ids
    for route in paged_lists():
        response = client.get(route.format(**ids), {"page": page})
        assert response.status_code == 400, route
        error = response.json()["error"]
        assert (error["code"], list(error["fields"])) == ("invalid", ["page"]), route
        assert error["fields"]["page"] == [error["message"]]


def test_a_page_past_the_end_is_empty_and_tells_the_total(
    caller_and_ids: tuple[APIClient, dict[str, int]],
) -> None:
    client, ids = caller_and_ids
    for route in paged_lists():
        first = client.get(route.format(**ids))
        past = client.get(route.format(**ids), {"page": 999})
        assert (first.status_code, past.status_code) == (200, 200), route
        body: dict[str, Any] = past.json()
        # The paged list, and any list beside it that belongs to the last page (a thread's replies
        # awaiting approval, under its last page): all empty past the end.
        lists = [name for name, value in body.items() if isinstance(value, list)]
        assert lists, (route, body)
        assert all(body[name] == [] for name in lists), route
        assert (body["page"], body["total"], body["pages"]) == (
            999,
            first.json()["total"],
            first.json()["pages"],
        )
