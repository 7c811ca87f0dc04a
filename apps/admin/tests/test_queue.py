"""The one moderation queue from the outside: staff see threads awaiting moderation and open reports
on one page, filter them, and approve, reject or dismiss in bulk; members and guests never see it;
the page runs a fixed number of queries however much waits."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.admin.models import Action, ActionLogEntry
from apps.admin.tests.conftest import Handler, Web
from apps.authorization.services import AccessRestriction, access_restrictions_set
from apps.support.services import report_file, report_tickets_open
from apps.thread.services import forum_create, post_create, thread_approve, thread_create, threads_pending


def _forum() -> int:
    category = forum_create(name="Community", kind="category", position=1).id
    return forum_create(name="General", parent_id=category, position=1).id


def _pending(forum: int, author: int, title: str) -> int:
    return thread_create(author_id=author, forum_id=forum, title=title, body="Words to moderate").id


def _held(thread: int, author: int, body: str) -> int:
    """A reply of a member whose posts are premoderated (as an escalation leaves them)."""
    access_restrictions_set(
        user_id=author,
        restrictions=[AccessRestriction(code="premoderate", denied=("post.skip_premoderation",))],
    )
    reply = post_create(author_id=author, thread_id=thread, body=body)
    assert reply.held
    return reply.id


def _reported(forum: int, author: int, reporter: int, support: int, title: str, reason: str) -> int:
    thread = _pending(forum, author, title)
    thread_approve(moderator_id=support, thread_id=thread)
    return report_file(reporter_id=reporter, target_kind="thread", target_id=thread, reason=reason).ticket_id


def test_staff_see_both_kinds_filter_and_act_in_bulk(
    web: Web, support: int, member: int, other: int, make_member: Callable[..., int], handle: Handler
) -> None:
    forum = _forum()
    first = _pending(forum, member, "First pending thread")
    second = _pending(forum, other, "Second pending thread")
    spam = _reported(forum, make_member(), member, support, "Cheap watches here", "spam")
    rude = _reported(forum, make_member(), other, support, "You are all fools", "abuse")

    page = web(support).get("/moderation/").content.decode()
    assert "First pending thread" in page and "Second pending thread" in page
    assert f"#{spam} " in page and f"#{rude} " in page
    reports_only = web(support).get("/moderation/?show=reports&reason=abuse").content.decode()
    assert "First pending thread" not in reports_only
    assert f"#{rude} " in reports_only and f"#{spam} " not in reports_only

    assert web(support).post("/moderation/", {"action": "approve", "thread": [first]}).status_code == 302
    refused = web(support).post("/moderation/", {"action": "reject", "thread": [second]})
    assert refused.status_code == 302  # a rejection needs its reason: nothing happened
    assert {row.id for row in threads_pending(moderator_id=support)[0]} == {second}
    rejected = web(support).post("/moderation/", {"action": "reject", "thread": [second], "reason": "dupe"})
    assert rejected.status_code == 302
    assert threads_pending(moderator_id=support)[0] == ()
    dismissed = web(support).post("/moderation/", {"action": "dismiss", "ticket": [spam, rude]})
    assert dismissed.status_code == 302
    assert report_tickets_open() == ()
    handle()
    assert {entry.target_id for entry in ActionLogEntry.objects.filter(action=Action.THREAD_APPROVE)} >= {
        first
    }
    assert ActionLogEntry.objects.filter(action=Action.THREAD_REJECT, target_id=second).exists()


def test_members_and_guests_never_see_the_queue(web: Web, member: int, other: int) -> None:
    forum = _forum()
    _pending(forum, member, "Mine, waiting")
    assert web(other).get("/moderation/").status_code == 404
    assert web(other).post("/moderation/", {"action": "approve", "thread": [1]}).status_code == 404
    assert web(None).get("/moderation/").status_code == 302  # sent to sign in


def test_the_queue_runs_a_fixed_number_of_queries(
    web: Web, support: int, make_member: Callable[..., int]
) -> None:
    forum = _forum()
    _pending(forum, make_member(), "One waiting")
    _reported(forum, make_member(), make_member(), support, "One reported", "spam")
    public = thread_create(author_id=support, forum_id=forum, title="Open to replies", body="Reply here").id
    _held(public, make_member(), "One held reply")
    client = web(support)
    client.get("/moderation/")  # warm the session and the caches of the process

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/moderation/").status_code == 200
        return len(queries)

    few = count()
    for number in range(3):
        _pending(forum, make_member(), f"Waiting {number}")
        _reported(forum, make_member(), make_member(), support, f"Reported {number}", "abuse")
        _held(public, make_member(), f"Held reply {number}")
    assert "Held reply 2" in client.get("/moderation/").content.decode()
    assert count() == few
