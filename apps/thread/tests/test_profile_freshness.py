"""Profiles with their kept parts on (forum.versioned_cache) and guests' profiles from the page cache:
built once per permission set and language, and every change shows at once after it commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import permission_key_for, role_assign
from apps.status.services import status_grant
from apps.thread.models import Forum
from apps.thread.services import (
    post_create,
    post_delete,
    post_edit,
    thread_approve,
    thread_create,
    thread_move,
)
from apps.thread.tests.conftest import Tree
from apps.user import services as user_services
from forum import versioned_cache
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_faults import redis_behind_proxy, redis_proxy  # noqa: F401  fixtures


@pytest.fixture(autouse=True)
def kept_parts(settings: Any, redis_namespace: str) -> None:
    settings.KEPT_PARTS_SECONDS = 300
    settings.PAGE_CACHE_SECONDS = 300


@pytest.fixture
def client_for(django_user_model: Any) -> Callable[[int | None], Client]:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


def profile(client: Client, user_id: int) -> tuple[str, int, bool]:
    """The profile's HTML, its query count, and whether the guests' page cache served it."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/members/{user_id}/")
    assert response.status_code == 200
    return response.content.decode(), len(queries), response.get("X-Page-Cache") == "hit"


@pytest.fixture
def author_thread(tree: Tree, member: int, staff: int, committed: Callable[[], Any]) -> int:
    with committed():
        thread = thread_create(author_id=member, forum_id=tree.general, title="Harbour news", body="Opening")
        thread_approve(moderator_id=staff, thread_id=thread.id)
    return thread.id


def test_members_with_the_same_permissions_share_the_lists(
    author_thread: int, member: int, other: int, make_member: Callable[..., int], client_for: Any
) -> None:
    third = make_member()
    assert permission_key_for(user_id=other) == permission_key_for(user_id=third)
    html, first, _hit = profile(client_for(other), member)
    assert "Harbour news" in html
    again, kept, _hit = profile(client_for(third), member)
    assert kept < first, "the second reader with the same permissions is served the kept lists"
    assert again.count("Harbour news") == html.count("Harbour news")


def test_a_reply_an_edit_a_deletion_and_a_move_show_at_once(
    tree: Tree,
    author_thread: int,
    member: int,
    other: int,
    staff: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    reader = client_for(other)
    profile(reader, member)
    with committed():
        reply = post_create(author_id=member, thread_id=author_thread, body="A reply about lighthouses")
    assert "A reply about lighthouses" in profile(reader, member)[0]

    with committed():
        post_edit(editor_id=member, post_id=reply.id, body="A reply about tides")
    html = profile(reader, member)[0]
    assert "A reply about tides" in html and "lighthouses" not in html

    with committed():
        post_delete(user_id=member, post_id=reply.id)
    assert "A reply about tides" not in profile(reader, member)[0]

    with committed():
        thread_move(moderator_id=staff, thread_id=author_thread, forum_id=tree.exclusive)
    assert "Harbour news" not in profile(reader, member)[0], "moved where the reader may not read"
    assert "Harbour news" in profile(client_for(staff), member)[0]


def test_a_forums_permissions_changed_in_the_admin_show_at_once(
    tree: Tree, author_thread: int, member: int, other: int, client_for: Any, admin_client: Client
) -> None:
    reader = client_for(other)
    assert "Harbour news" in profile(reader, member)[0]
    forum = Forum.objects.get(pk=tree.general)
    form = {
        "name": forum.name,
        "kind": forum.kind,
        "slug": forum.slug,
        "description": forum.description,
        "position": forum.position,
        "read_permission": "forum.read_exclusive",
        "post_permission": forum.post_permission,
    }
    # The admin saves in a transaction of its own, which the test's outer one never lets commit.
    with transaction.atomic(), CaptureCommits() as commits:
        response = admin_client.post(f"/admin/thread/forum/{tree.general}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    commits.run()
    assert "Harbour news" not in profile(reader, member)[0]
    assert "Harbour news" not in profile(Client(), member)[0], "the guests' kept page went too"


class CaptureCommits:
    """The on-commit callbacks registered inside the block, run on ``run()``."""

    def __enter__(self) -> CaptureCommits:
        self.start = len(connection.run_on_commit)
        return self

    def __exit__(self, *exc: object) -> None:
        self.callbacks = [callback for _sids, callback, _robust in connection.run_on_commit[self.start :]]

    def run(self) -> None:
        for callback in self.callbacks:
            callback()


def test_the_readers_role_and_status_give_them_other_lists_at_once(
    tree: Tree, member: int, other: int, staff: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    status_grant(user_id=member, status_code="agent", source="staff")
    with committed():
        secret = thread_create(author_id=member, forum_id=tree.exclusive, title="Agents cove", body="x")
        thread_approve(moderator_id=staff, thread_id=secret.id)
        pending = thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="y")
    reader = client_for(other)
    html = profile(reader, member)[0]
    assert "Agents cove" not in html and "Waiting tide" not in html

    status_grant(user_id=other, status_code="agent", source="staff")
    html = profile(reader, member)[0]
    assert "Agents cove" in html and "Waiting tide" not in html

    role_assign(user_id=other, role="admin")
    assert "Waiting tide" in profile(reader, member)[0], "an administrator sees the thread awaiting approval"
    assert pending.id


def test_the_owner_sees_their_own_pending_thread_and_others_never_do(
    tree: Tree, member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    with committed():
        thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="pending")
    assert "Waiting tide" in profile(client_for(member), member)[0]
    assert "Waiting tide" not in profile(client_for(other), member)[0]
    assert "Waiting tide" not in profile(Client(), member)[0]


def test_a_guests_profile_is_kept_until_what_it_shows_changes(
    author_thread: int, member: int, committed: Callable[[], Any]
) -> None:
    html, _count, hit = profile(Client(), member)
    assert not hit and "Harbour news" in html
    assert profile(Client(), member)[2], "the next guest is served the kept page"

    with committed():
        post_create(author_id=member, thread_id=author_thread, body="A fresh reply")
    html, _count, hit = profile(Client(), member)
    assert not hit and "A fresh reply" in html

    with committed():
        user_services.profile_update(user_id=member, bio="I keep the *lighthouse*.", location="Cape Wrath")
    html, _count, hit = profile(Client(), member)
    assert not hit and "Cape Wrath" in html

    with committed():
        status_grant(user_id=member, status_code="agent", source="staff")
    html, _count, hit = profile(Client(), member)
    assert not hit and 'data-status="agent"' in html

    profile(Client(), member)
    with committed():
        user = get_user_model().objects.get(pk=member)
        user.is_active = False
        user.save(update_fields=["is_active"])  # as the admin's form does: no event
    html, _count, hit = profile(Client(), member)
    assert not hit and "This account is disabled." in html


def test_with_redis_down_the_profile_is_built_and_a_change_made_then_is_not_hidden_after(
    request: pytest.FixtureRequest,
    author_thread: int,
    member: int,
    other: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    redis: TcpProxy = request.getfixturevalue("redis_behind_proxy")
    reader = client_for(other)
    assert "Harbour news" in profile(reader, member)[0]
    profile(reader, member)  # kept now
    redis.cut()
    try:
        with committed():
            post_create(author_id=member, thread_id=author_thread, body="Written while Redis is down")
        assert "Written while Redis is down" in profile(reader, member)[0], "built, not served as kept"
    finally:
        redis.restore()
    # The version that could not be started is started at the process's next look: the lists kept
    # before the outage are not served again.
    assert "Written while Redis is down" in profile(reader, member)[0]
    versioned_cache.breaker.reset()


def test_the_header_of_a_kept_profile_follows_posts_statuses_and_edits(
    author_thread: int, member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    reader = client_for(other)
    html = profile(reader, member)[0]
    assert "<dd>1</dd>" in html  # the opening post
    with committed():
        post_create(author_id=member, thread_id=author_thread, body="One more")
    assert "<dd>2</dd>" in profile(reader, member)[0]

    with committed():  # the badges are kept under the status version: a grant shows once it commits
        status_grant(user_id=member, status_code="agent", source="staff")
    assert 'data-status="agent"' in profile(reader, member)[0]

    with committed():
        user_services.profile_update(user_id=member, location="Cape Wrath")
    assert "Cape Wrath" in profile(reader, member)[0]
