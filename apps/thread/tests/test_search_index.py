"""The thread app's search documents follow its events: created, edited, deleted, restored, moved,
approved, rejected, through the real handlers (their Celery tasks, dedup record included)."""

from __future__ import annotations

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.search.base import SearchQuery, get_backend, scope_for
from forum.testing.search import deliver_search_events


def found(
    text: str, viewer_id: int | None, kinds: tuple[str, ...] = ("post", "thread")
) -> list[tuple[str, int]]:
    result = get_backend("postgres").search(SearchQuery(text=text, kinds=kinds), scope_for(viewer_id))
    return sorted((hit.kind, hit.id) for hit in result.hits)


def test_a_public_thread_is_found_and_follows_edits_and_deletions(
    tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Kettle care", body="Descale monthly"
    )
    reply = services.post_create(author_id=staff, thread_id=thread.id, body="Vinegar works on kettles")
    assert found("kettle", member) == []  # nothing before the handlers ran
    ran = deliver_search_events()
    assert "thread.search_on_thread_created" in ran and "thread.search_on_post_created" in ran
    assert found("kettle", member) == [("post", reply.id), ("thread", thread.id)]
    assert found("descale", None) == [("post", thread.first_post_id), ("thread", thread.id)]

    services.post_edit(editor_id=staff, post_id=reply.id, body="Citric acid instead")
    deliver_search_events()
    assert found("vinegar", member) == []
    assert found("citric", member) == [("post", reply.id)]

    services.post_delete(user_id=staff, post_id=reply.id)
    deliver_search_events()
    assert found("citric", member) == []
    services.post_restore(moderator_id=staff, post_id=reply.id)
    deliver_search_events()
    assert found("citric", member) == [("post", reply.id)]
    # Delivered again: nothing runs twice.
    assert deliver_search_events() == []


def test_a_move_into_the_agents_forum_hides_it_from_members_without_the_status(
    tree: Tree, staff: int, member: int, other: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    status_grant(user_id=other, status_code="agent", source="staff")
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Lanterns", body="Paper ones"
    )
    deliver_search_events()
    assert found("lantern", member) == [("thread", thread.id)]  # a post is not found by its thread's title

    services.thread_move(moderator_id=staff, thread_id=thread.id, forum_id=tree.exclusive)
    deliver_search_events()
    assert found("lantern", member) == []
    assert found("lantern", None) == []
    assert found("lantern", other) == [("thread", thread.id)]
    assert found("paper", other) == [("post", thread.first_post_id), ("thread", thread.id)]

    services.thread_delete(moderator_id=staff, thread_id=thread.id)
    deliver_search_events()
    assert found("lantern", other) == []


def test_a_thread_waiting_for_moderation_is_found_after_approval_only(
    tree: Tree, staff: int, member: int
) -> None:
    waiting = services.thread_create(author_id=member, forum_id=tree.general, title="Harbour", body="Boats")
    rejected = services.thread_create(
        author_id=member, forum_id=tree.general, title="Harbour two", body="Ships"
    )
    deliver_search_events()
    for viewer in (member, staff, None):
        assert found("harbour", viewer) == []
    services.thread_reject(moderator_id=staff, thread_id=rejected.id, reason="Duplicate")
    services.thread_approve(moderator_id=staff, thread_id=waiting.id)
    ran = deliver_search_events()
    assert "thread.search_on_thread_approved" in ran
    assert found("harbour", member) == [("thread", waiting.id)]
    assert found("boat", None) == [("post", waiting.first_post_id), ("thread", waiting.id)]
