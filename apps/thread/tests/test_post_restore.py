"""post_restore: a hidden reply shown again by a moderator, counted again, with ``thread.post_restored``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.authorization.services import role_assign
from apps.thread import services
from apps.thread.models import Forum, Thread
from apps.thread.tests.conftest import Tree
from forum.errors import Conflict, Forbidden, NotFound

Outbox = Callable[[str], list[dict[str, Any]]]


@pytest.fixture
def moderator(make_member: Callable[..., int]) -> int:
    user_id = make_member()
    role_assign(user_id=user_id, role="support")
    return user_id


def test_a_hidden_reply_comes_back_as_the_last_post(
    tree: Tree, moderator: int, member: int, outbox: Outbox
) -> None:
    thread = services.thread_create(author_id=moderator, forum_id=tree.general, title="T", body="Opening")
    reply = services.post_create(author_id=member, thread_id=thread.id, body="Reply")
    services.post_delete(user_id=member, post_id=reply.id)
    assert Thread.objects.get(pk=thread.id).last_post_id == thread.first_post_id

    restored = services.post_restore(moderator_id=moderator, post_id=reply.id)

    assert (restored.id, restored.position) == (reply.id, 2)
    row = Thread.objects.get(pk=thread.id)
    assert (row.post_count, row.last_post_id, row.last_poster_id) == (2, reply.id, member)
    forum = Forum.objects.get(pk=tree.general)
    assert (forum.post_count, forum.last_post_id) == (2, reply.id)
    assert outbox("thread.post_restored") == [
        {
            "post_id": reply.id,
            "thread_id": thread.id,
            "forum_id": tree.general,
            "author_id": member,
            "position": 2,
            "restored_by": moderator,
        }
    ]


def test_only_moderators_restore_and_only_what_is_hidden(
    tree: Tree, moderator: int, member: int, outbox: Outbox
) -> None:
    thread = services.thread_create(author_id=moderator, forum_id=tree.general, title="T", body="Opening")
    reply = services.post_create(author_id=member, thread_id=thread.id, body="Reply")

    with pytest.raises(Conflict):
        services.post_restore(moderator_id=moderator, post_id=reply.id)
    services.post_delete(user_id=member, post_id=reply.id)
    with pytest.raises(Forbidden):  # its author hid it, but bringing it back is for moderators
        services.post_restore(moderator_id=member, post_id=reply.id)
    with pytest.raises(NotFound):
        services.post_restore(moderator_id=moderator, post_id=reply.id + 1000)
    services.thread_delete(moderator_id=moderator, thread_id=thread.id)
    with pytest.raises(NotFound):  # a post of a deleted thread comes back only with its thread
        services.post_restore(moderator_id=moderator, post_id=reply.id)
    assert outbox("thread.post_restored") == []
