"""The moderation queue in the Django admin, from the outside: staff list the same threads and
reports as /moderation/, filter them, and approve, reject or dismiss in bulk through the same
services; members without the permission are refused; the list runs a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.admin.models import WarningType
from apps.admin.services import warning_issue
from apps.admin.tests.conftest import Web
from apps.support.services import report_file, report_tickets_open, ticket_get
from apps.thread.services import (
    forum_create,
    post_create,
    posts_pending,
    thread_approve,
    thread_create,
    threads_pending,
)

URL = "/admin/forum_admin/moderationqueueentry/"


def _forum() -> int:
    category = forum_create(name="Community", kind="category", position=1).id
    return forum_create(name="General", parent_id=category, position=1).id


def _reported(forum: int, author: int, reporter: int, support: int, title: str, reason: str) -> int:
    thread = thread_create(author_id=author, forum_id=forum, title=title, body="Words").id
    thread_approve(moderator_id=support, thread_id=thread)
    return report_file(reporter_id=reporter, target_kind="thread", target_id=thread, reason=reason).ticket_id


def test_staff_work_the_queue_in_the_admin(
    web: Web, support: int, member: int, other: int, make_member: Callable[..., int]
) -> None:
    forum = _forum()
    first = thread_create(author_id=member, forum_id=forum, title="First pending", body="Hi").id
    second = thread_create(author_id=other, forum_id=forum, title="Second pending", body="Hi").id
    spam = _reported(forum, make_member(), member, support, "Cheap watches", "spam")
    rude = _reported(forum, make_member(), other, support, "You fools", "abuse")
    client = web(support)
    assert "moderationqueueentry" in client.get("/admin/").content.decode()
    page = client.get(URL).content.decode()
    assert "First pending" in page and "Second pending" in page
    assert f"#{spam} " in page and f"#{rude} " in page
    narrowed = client.get(f"{URL}?show=reports&reason=abuse").content.decode()
    assert "First pending" not in narrowed and f"#{rude} " in narrowed and f"#{spam} " not in narrowed

    assert client.post(URL, {"action": "approve", "thread": [first]}).status_code == 302
    client.post(URL, {"action": "reject", "thread": [second]})  # a rejection needs its reason
    assert [row.id for row in threads_pending(moderator_id=support)[0]] == [second]
    client.post(URL, {"action": "reject", "thread": [second], "reason": "A duplicate"})
    assert threads_pending(moderator_id=support)[0] == ()
    client.post(URL, {"action": "dismiss", "ticket": [spam, rude], "reason": "Fine"})
    assert report_tickets_open() == ()
    assert ticket_get(viewer_id=support, ticket_id=spam).outcome == "no_action"


def test_nobody_else_reaches_it(web: Web, member: int) -> None:
    assert web(member).get(URL).status_code == 302  # not staff: the admin's sign-in
    assert web(None).get(URL).status_code == 302


def test_the_list_runs_a_fixed_number_of_queries(
    web: Web, support: int, member: int, make_member: Callable[..., int]
) -> None:
    forum = _forum()
    thread_create(author_id=member, forum_id=forum, title="Pending", body="Hi")
    _reported(forum, make_member(), member, support, "Reported", "spam")
    client = web(support)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for number in range(4):
        thread_create(author_id=make_member(), forum_id=forum, title=f"Pending {number}", body="Hi")
        _reported(forum, make_member(), make_member(), support, f"Reported {number}", "abuse")
    with CaptureQueriesContext(connection) as many:
        page = client.get(URL).content.decode()
    assert "Pending 3" in page and "Reported 3" in page
    assert len(many.captured_queries) == len(few.captured_queries)


def test_replies_held_by_an_escalation_are_approved_in_the_admin(
    web: Web, support: int, member: int, other: int
) -> None:
    forum = _forum()
    thread = thread_create(author_id=other, forum_id=forum, title="A discussion", body="Hi").id
    thread_approve(moderator_id=support, thread_id=thread)
    spam = WarningType.objects.get(name="Spam or advertising")  # 3 points: premoderation (seeded rule)
    warning_issue(actor_id=support, member_id=member, warning_type_id=spam.pk, reason="Ads")
    held = post_create(author_id=member, thread_id=thread, body="Buy my watches").id
    client = web(support)
    page = client.get(f"{URL}?show=posts").content.decode()
    assert "Buy my watches" in page and "A discussion" in page
    assert client.post(URL, {"action": "approve", "post": [held]}).status_code == 302
    assert posts_pending(moderator_id=support).total == 0
