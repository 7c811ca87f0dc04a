"""Replies held by an escalation, from the outside: three warning points premoderate a member's posts
(the escalation rule of the seed); their reply waits in the one moderation queue, seen by nobody but
them and staff; staff approve it there (it is published and everyone concerned is told) or reject it
(it goes, and its author is told why)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone, translation

from apps.admin.models import Action, ActionLogEntry, Sanction, WarningType
from apps.admin.services import warning_issue
from apps.admin.tests.conftest import Api, Handler, Web
from apps.notification.services import notifications_latest
from apps.status.services import status_grant
from apps.thread.services import forum_create, post_approve, post_create, post_reject, thread_create


def _escalated(support: int, member: int) -> None:
    off_topic = int(WarningType.objects.get(name="Off-topic").pk)
    for _ in range(3):
        warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)


def _thread(support: int) -> tuple[int, int]:
    category = forum_create(name="Community", kind="category", position=1).id
    forum = forum_create(name="General", parent_id=category, position=1).id
    return forum, thread_create(author_id=support, forum_id=forum, title="Kettles", body="Opening").id


def _kinds(user_id: int) -> dict[str, str]:
    return {item.kind: item.text for item in notifications_latest(user_id=user_id)}


def test_an_escalated_members_reply_waits_in_the_queue_until_approved(
    web: Web, api_as: Api, support: int, member: int, other: int, handle: Handler, django_user_model: Any
) -> None:
    _forum, thread = _thread(support)
    # A Reader skips premoderation of threads; replies are public for every member until an escalation.
    status_grant(user_id=member, status_code="reader", source="staff")
    assert not post_create(author_id=member, thread_id=thread, body="Before the warnings").held
    _escalated(support, member)
    handle()
    name = django_user_model.objects.get(pk=other).username
    answer = web(member).post(f"/threads/{thread}/reply/", {"body": f"Kettle spam for @{name}"}, follow=True)
    assert "Kettle spam" in answer.content.decode() and "awaits a moderator" in answer.content.decode()
    handle()
    assert "thread.mention" not in _kinds(other)  # not told of what they cannot see

    for outsider in (other, None):
        assert "Kettle spam" not in web(outsider).get(f"/threads/{thread}/").content.decode()
        assert api_as(outsider).get(f"/api/v1/threads/{thread}/posts").json()["total"] == 2
    queue = web(support).get("/moderation/").content.decode()
    assert "Kettle spam" in queue and "Replies awaiting approval (1)" in queue
    assert "Kettle spam" not in web(support).get("/moderation/?show=threads").content.decode()
    assert "Kettle spam" in web(support).get("/moderation/?show=posts").content.decode()
    assert web(other).get("/moderation/?show=posts").status_code == 404

    (held,) = api_as(support).get("/api/v1/moderation/posts").json()["posts"]
    done = web(support).post("/moderation/?show=posts", {"action": "approve", "post": [held["id"]]})
    assert done.status_code == 302
    assert "Kettle spam" in web(other).get(f"/threads/{thread}/").content.decode()
    assert api_as(None).get(f"/api/v1/threads/{thread}/posts").json()["total"] == 3
    handle()
    assert "thread.mention" in _kinds(other)
    assert "was approved" in _kinds(member)["thread.post_approved"]
    assert "Replies awaiting approval (0)" in web(support).get("/moderation/").content.decode()


def test_a_rejected_reply_goes_and_its_author_is_told_why(
    web: Web, api_as: Api, support: int, member: int, other: int, handle: Handler
) -> None:
    _forum, thread = _thread(support)
    _escalated(support, member)
    first = post_create(author_id=member, thread_id=thread, body="Cheap kettles here")
    second = post_create(author_id=member, thread_id=thread, body="More cheap kettles")
    assert first.held and second.held
    staff = web(support)  # one session: the page tells what went wrong through it
    # A rejection needs its reason: nothing happens without one.
    staff.post("/moderation/", {"action": "reject", "post": [first.id, second.id]})
    assert api_as(support).get("/api/v1/moderation/posts").json()["total"] == 2
    # Bulk, with one that is not held (any more): it is named, the other goes on.
    done = staff.post(
        "/moderation/", {"action": "reject", "post": [first.id, second.id], "reason": "Advertising"}
    )
    assert done.status_code == 302
    staff.get("/moderation/")  # the messages of the last act shown
    again = staff.post("/moderation/", {"action": "reject", "post": [first.id], "reason": "Again"})
    assert again.status_code == 302
    assert f"Post #{first.id}: There is no such post." in staff.get("/moderation/").content.decode()
    assert api_as(support).get("/api/v1/moderation/posts").json()["total"] == 0
    page = web(member).get(f"/threads/{thread}/").content.decode()
    assert "cheap kettles" not in page.lower()
    handle()
    assert _kinds(member)["thread.post_rejected"].endswith("rejected: Advertising")


def test_approving_and_rejecting_a_held_reply_are_logged_once_with_actor_target_and_reason(
    support: int, admin: int, member: int, handle: Handler
) -> None:
    _forum, thread = _thread(support)
    _escalated(support, member)
    kept = post_create(author_id=member, thread_id=thread, body="A fair point about kettles")
    spam = post_create(author_id=member, thread_id=thread, body="Cheap kettles here")
    assert kept.held and spam.held
    before = timezone.now()
    post_approve(moderator_id=support, post_id=kept.id)
    post_reject(moderator_id=admin, post_id=spam.id, reason="Advertising")
    handle()
    Handler()()  # every event delivered again: nothing is logged twice

    (approved,) = ActionLogEntry.objects.filter(action=Action.POST_APPROVE)
    assert (approved.actor_id, approved.target_kind, approved.target_id) == (support, "post", kept.id)
    assert approved.extra["thread_id"] == thread and approved.extra["author_id"] == member
    assert approved.created_at >= before
    (rejected,) = ActionLogEntry.objects.filter(action=Action.POST_REJECT)
    assert (rejected.actor_id, rejected.target_kind, rejected.target_id) == (admin, "post", spam.id)
    assert rejected.reason == "Advertising" and rejected.created_at >= before
    assert (approved.get_action_display(), rejected.get_action_display()) == (
        "Held reply approved",
        "Held reply rejected",
    )


def test_the_premoderate_sanction_says_it_holds_replies_too() -> None:
    assert str(Sanction.PREMODERATE.label) == "New threads and replies wait for a moderator"
    with translation.override("ru"):
        assert str(Sanction.PREMODERATE.label) == "Новые темы и ответы ждут модератора"
