"""A member's threads and posts on their profile: only what the viewer may see, counted once per page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.status.services import status_grant
from apps.thread.services import post_create, thread_approve, thread_create
from apps.thread.tests.conftest import Tree
from apps.user import services as user_services


def page_as(django_user_model: Any, user_id: int | None, url: str) -> str:
    client = Client()
    if user_id is not None:
        client.force_login(django_user_model.objects.get(pk=user_id))
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_profile_lists_hide_pending_and_exclusive_threads_from_those_who_may_not_see_them(
    tree: Tree, member: int, other: int, staff: int, make_member: Callable[..., int], django_user_model: Any
) -> None:
    agent = make_member()
    status_grant(user_id=agent, status_code="agent", source="staff")
    status_grant(user_id=member, status_code="agent", source="staff")  # may write in the exclusive forum
    public = thread_create(author_id=member, forum_id=tree.general, title="Public harbour", body="hello")
    thread_approve(moderator_id=staff, thread_id=public.id)
    post_create(author_id=member, thread_id=public.id, body="a reply about lighthouses")
    thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="pending body")
    secret = thread_create(author_id=member, forum_id=tree.exclusive, title="Agents cove", body="secret body")
    thread_approve(moderator_id=staff, thread_id=secret.id)

    def titles(viewer: int | None) -> set[str]:
        html = page_as(django_user_model, viewer, f"/members/{member}/threads/")
        return {title for title in ("Public harbour", "Waiting tide", "Agents cove") if title in html}

    assert titles(None) == {"Public harbour"}
    assert titles(other) == {"Public harbour"}
    assert titles(agent) == {"Public harbour", "Agents cove"}
    assert titles(member) == {"Public harbour", "Waiting tide", "Agents cove"}  # the author sees their own

    posts_for_guest = page_as(django_user_model, None, f"/members/{member}/posts/")
    assert "lighthouses" in posts_for_guest
    assert "pending body" not in posts_for_guest and "secret body" not in posts_for_guest

    profile = page_as(django_user_model, None, f"/members/{member}/")
    assert "Public harbour" in profile and "Waiting tide" not in profile
    # Public totals: the opening posts of the two approved threads and the reply; not the pending one.
    assert user_services.member_profile(user_id=member).counters == user_services.MemberCounters(
        post_count=3, reaction_score=0
    )


@pytest.mark.parametrize("count", [1, 20])
def test_a_page_of_a_members_posts_costs_the_same_whatever_it_holds(
    count: int, tree: Tree, member: int, staff: int, django_assert_max_num_queries: Any
) -> None:
    thread = thread_create(author_id=staff, forum_id=tree.general, title="Busy thread", body="first")
    for number in range(count):
        post_create(author_id=member, thread_id=thread.id, body=f"reply {number}")
    with django_assert_max_num_queries(6):
        page = user_services.member_posts(viewer_id=None, author_id=member, page=1, per_page=20)
    assert page is not None and page.total == count and len(page.items) == count
