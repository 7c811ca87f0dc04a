"""Moderation acts from a report's ticket, from the outside: support hides, restores, closes, moves,
deletes, warns and dismisses from the ticket's page and the API; only administrators ban; the
reporter, other members and guests are answered as for nothing there. Each act lands on the ticket's
history and in the staff action log, and resolving with it tells the reporters "action taken"."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.admin.models import Action, ActionLogEntry, Ban, MemberWarning, WarningType
from apps.admin.tests.conftest import Api, Handler, Web
from apps.notification.services import notifications_page
from apps.support.services import report_file, ticket_get
from apps.thread.services import (
    forum_create,
    forums_for_move,
    post_brief_for_report,
    post_create,
    thread_approve,
    thread_create,
    thread_get,
    thread_visible_to,
)


@dataclass(frozen=True)
class Reported:
    forum_id: int
    other_forum_id: int
    thread_id: int
    reply_id: int
    author_id: int


@pytest.fixture
def reported(support: int, make_member: Callable[..., int]) -> Reported:
    """A public thread by its author with a reply by the same author."""
    author = make_member()
    category = forum_create(name="Community", kind="category", position=1).id
    general = forum_create(name="General", parent_id=category, position=1).id
    elsewhere = forum_create(name="Off topic", parent_id=category, position=2).id
    thread = thread_create(author_id=author, forum_id=general, title="Cheap watches", body="Buy now")
    thread_approve(moderator_id=support, thread_id=thread.id)
    reply = post_create(author_id=author, thread_id=thread.id, body="Still cheap, buy now")
    return Reported(general, elsewhere, thread.id, reply.id, author)


def _report(reporter: int, kind: str, target: int) -> int:
    return report_file(reporter_id=reporter, target_kind=kind, target_id=target, reason="spam").ticket_id


def _acts(client: APIClient, ticket_id: int) -> list[str]:
    """The acts on the ticket's history, as staff read it in the API."""
    history = client.get(f"/api/v1/support/tickets/{ticket_id}").json()["history"]
    return [str(entry["changes"]["action"]) for entry in history if entry["kind"] == "action"]


def _type(name: str) -> int:
    return int(WarningType.objects.get(name=name).pk)


def test_support_hides_the_post_and_warns_its_author_from_the_ticket_page(
    web: Web, api_as: Api, support: int, member: int, reported: Reported, handle: Handler
) -> None:
    ticket = _report(member, "post", reported.reply_id)
    page = web(support).get(f"/support/tickets/{ticket}/").content.decode()
    assert "Hide the post" in page and "Warn the author" in page and "Dismiss the report" in page
    assert "Ban the author" not in page and "Close the thread" not in page  # not admin; a post

    hidden = web(support).post(f"/support/tickets/{ticket}/act/", {"action": "post_hide"})
    assert hidden.status_code == 302 and hidden["Location"] == f"/support/tickets/{ticket}/"
    assert post_brief_for_report(viewer_id=member, post_id=reported.reply_id) is None
    assert ticket_get(viewer_id=support, ticket_id=ticket).state == "open"  # not asked to resolve
    page = web(support).get(f"/support/tickets/{ticket}/").content.decode()
    assert "Restore the post" in page and "Hide the post" not in page

    warned = web(support).post(
        f"/support/tickets/{ticket}/act/",
        {"action": "warn", "warning_type": _type("Spam or advertising"), "reason": "Ads", "resolve": "on"},
    )
    assert warned.status_code == 302
    warning = MemberWarning.objects.get(member_id=reported.author_id)
    assert warning.ticket_id == ticket and warning.reason == "Ads"
    after = ticket_get(viewer_id=support, ticket_id=ticket)
    assert (after.state, after.outcome) == ("resolved", "action_taken")
    assert _acts(api_as(support), ticket) == ["post_hidden", "member_warned"]

    handle()
    logged = set(ActionLogEntry.objects.values_list("action", "target_id"))
    assert (Action.POST_HIDE, reported.reply_id) in logged
    assert (Action.WARN, reported.author_id) in logged
    told = [
        item for item in notifications_page(user_id=member).items if item.kind == "support.report_resolved"
    ]
    assert len(told) == 1
    reporter_page = web(member).get(f"/support/tickets/{ticket}/").content.decode()
    assert "took action" in reporter_page and "Spam or advertising" not in reporter_page


def test_restore_and_dismiss(
    web: Web, api_as: Api, support: int, member: int, reported: Reported, handle: Handler
) -> None:
    ticket = _report(member, "post", reported.reply_id)
    assert (
        api_as(support).post(f"/api/v1/support/tickets/{ticket}/actions", {"action": "post_hide"}).status_code
        == 200
    )
    twice = api_as(support).post(f"/api/v1/support/tickets/{ticket}/actions", {"action": "post_hide"})
    assert twice.status_code == 404  # a hidden post is not there to hide
    restored = api_as(support).post(f"/api/v1/support/tickets/{ticket}/actions", {"action": "post_restore"})
    assert restored.status_code == 200, restored.json()
    assert post_brief_for_report(viewer_id=member, post_id=reported.reply_id) is not None
    again = api_as(support).post(f"/api/v1/support/tickets/{ticket}/actions", {"action": "post_restore"})
    assert again.status_code == 409

    dismissed = web(support).post(f"/support/tickets/{ticket}/act/", {"action": "dismiss", "reason": "Fine"})
    assert dismissed.status_code == 302
    after = ticket_get(viewer_id=support, ticket_id=ticket)
    assert (after.state, after.outcome) == ("resolved", "no_action")
    handle()
    assert (
        ActionLogEntry.objects.filter(action=Action.REPORT_DISMISS, target_id=reported.reply_id).count() == 1
    )
    assert ActionLogEntry.objects.filter(action=Action.POST_RESTORE, target_id=reported.reply_id).count() == 1
    assert _acts(api_as(support), ticket) == ["post_hidden", "post_restored"]
    page = web(support).get(f"/support/tickets/{ticket}/").content.decode()
    assert "Dismiss the report" not in page  # resolved: nothing to dismiss


def test_thread_acts_through_the_api(
    api_as: Api, support: int, member: int, reported: Reported, handle: Handler
) -> None:
    ticket = _report(member, "thread", reported.thread_id)
    url = f"/api/v1/support/tickets/{ticket}/actions"
    staff = api_as(support)
    assert staff.post(url, {"action": "post_hide"}).status_code == 400  # not a post's report
    assert staff.post(url, {"action": "thread_close"}).json()["resolved"] is False
    assert staff.post(url, {"action": "thread_reopen"}).status_code == 200
    assert staff.post(url, {"action": "thread_move"}).status_code == 400  # which forum?
    assert staff.post(url, {"action": "thread_move", "forum_id": 2**40}).status_code == 404
    moved = staff.post(url, {"action": "thread_move", "forum_id": reported.other_forum_id})
    assert moved.status_code == 200
    deleted = staff.post(url, {"action": "thread_delete", "resolve": True}, format="json")
    assert deleted.status_code == 200 and deleted.json()["resolved"] is True
    assert not thread_visible_to(user_id=member, thread_id=reported.thread_id)
    assert ticket_get(viewer_id=support, ticket_id=ticket).outcome == "action_taken"
    assert _acts(api_as(support), ticket) == [
        "thread_closed",
        "thread_reopened",
        "thread_moved",
        "thread_deleted",
    ]
    handle()
    logged = list(
        ActionLogEntry.objects.filter(target_kind="thread", target_id=reported.thread_id)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert logged == [
        Action.THREAD_APPROVE,
        Action.THREAD_CLOSE,
        Action.THREAD_REOPEN,
        Action.THREAD_MOVE,
        Action.THREAD_DELETE,
    ]


def test_only_administrators_ban(
    web: Web, api_as: Api, support: int, admin: int, member: int, reported: Reported, handle: Handler
) -> None:
    ticket = _report(member, "member", reported.author_id)
    url = f"/api/v1/support/tickets/{ticket}/actions"
    ban = {"action": "ban", "ban_kind": "posting", "reason": "Spam everywhere"}
    assert api_as(support).post(url, ban).status_code == 403
    assert web(support).post(f"/support/tickets/{ticket}/act/", {**ban, "ban_days": "7"}).status_code == 403
    assert not Ban.objects.exists()
    page = web(admin).get(f"/support/tickets/{ticket}/").content.decode()
    assert "Ban the author" in page and "Hide the post" not in page and "Close the thread" not in page
    assert api_as(admin).post(url, {**ban, "reason": ""}).status_code == 400  # the member reads why
    done = web(admin).post(f"/support/tickets/{ticket}/act/", {**ban, "ban_days": "7", "resolve": "on"})
    assert done.status_code == 302
    given = Ban.objects.get(member_id=reported.author_id)
    assert given.kind == "posting" and given.ends_at is not None
    assert _acts(api_as(support), ticket) == ["member_banned"]
    assert ticket_get(viewer_id=admin, ticket_id=ticket).outcome == "action_taken"
    handle()
    assert ActionLogEntry.objects.filter(action=Action.BAN, target_id=reported.author_id).count() == 1


def test_nobody_but_staff_acts(
    web: Web, api_as: Api, member: int, other: int, reported: Reported, support: int
) -> None:
    ticket = _report(member, "post", reported.reply_id)
    url = f"/api/v1/support/tickets/{ticket}/actions"
    for user in (member, other, reported.author_id):  # the reporter, anyone, the reported author
        assert api_as(user).post(url, {"action": "post_hide"}).status_code == 404
        assert web(user).post(f"/support/tickets/{ticket}/act/", {"action": "post_hide"}).status_code == 404
    assert api_as(None).post(url, {"action": "post_hide"}).status_code in (401, 403)
    assert web(None).post(f"/support/tickets/{ticket}/act/", {"action": "post_hide"}).status_code == 302
    assert post_brief_for_report(viewer_id=member, post_id=reported.reply_id) is not None
    assert "Hide the post" not in web(member).get(f"/support/tickets/{ticket}/").content.decode()
    assert api_as(support).post(url, {"action": "nonsense"}).status_code == 400
    assert (
        api_as(support).post(f"/api/v1/support/tickets/{2**40}/actions", {"action": "dismiss"}).status_code
        == 404
    )


def _options(page: str) -> list[str]:
    """The forums the move form offers, as their labels."""
    start = page.index('<select id="act-forum"')
    return re.findall(r"<option value=\"\d+\">([^<]*)</option>", page[start : page.index("</select>", start)])


def test_the_ticket_page_offers_close_or_reopen_and_a_select_of_forums_to_move_to(
    web: Web, support: int, member: int, reported: Reported
) -> None:
    category = forum_create(name="Archive", kind="category", position=2).id
    archived = forum_create(name="Old threads", parent_id=category, position=1).id
    # A forum whose read permission nobody holds: not offered, and refused if posted.
    hidden = forum_create(name="Back room", parent_id=category, position=2, read_permission="nobody.reads")
    ticket = _report(member, "thread", reported.thread_id)
    staff = web(support)
    act = f"/support/tickets/{ticket}/act/"

    page = staff.get(f"/support/tickets/{ticket}/").content.decode()
    assert "Close the thread" in page and "Reopen the thread" not in page
    assert 'name="forum" min="1"' not in page  # no number to type
    # Forums only (no category), not the one it is in, with their path.
    assert _options(page) == ["Community › Off topic", "Archive › Old threads"]

    for refused in (hidden.id, category, reported.forum_id + 10_000):
        answer = staff.post(act, {"action": "thread_move", "forum": refused}, follow=True)
        assert "There is no such forum." in answer.content.decode()
    assert thread_get(viewer_id=support, thread_id=reported.thread_id).forum_id == reported.forum_id  # type: ignore[union-attr]

    moved = staff.post(act, {"action": "thread_move", "forum": archived})
    assert moved.status_code == 302
    assert thread_get(viewer_id=support, thread_id=reported.thread_id).forum_id == archived  # type: ignore[union-attr]
    page = staff.get(f"/support/tickets/{ticket}/").content.decode()
    assert _options(page) == ["Community › General", "Community › Off topic"]

    assert staff.post(act, {"action": "thread_close"}).status_code == 302
    page = staff.get(f"/support/tickets/{ticket}/").content.decode()
    assert "Reopen the thread" in page and "Close the thread" not in page
    assert thread_get(viewer_id=member, thread_id=reported.thread_id).closed  # type: ignore[union-attr]
    assert staff.post(act, {"action": "thread_reopen"}).status_code == 302
    page = staff.get(f"/support/tickets/{ticket}/").content.decode()
    assert "Close the thread" in page and "Reopen the thread" not in page


def test_forums_for_move_and_thread_get_answer_by_who_asks(
    support: int, member: int, reported: Reported
) -> None:
    assert forums_for_move(viewer_id=member) == []  # not a moderator
    offered = forums_for_move(viewer_id=support)
    assert [(choice.id, choice.label) for choice in offered] == [
        (reported.forum_id, "Community › General"),
        (reported.other_forum_id, "Community › Off topic"),
    ]
    seen = thread_get(viewer_id=None, thread_id=reported.thread_id)
    assert seen is not None and (seen.forum_id, seen.closed) == (reported.forum_id, False)
    assert thread_get(viewer_id=member, thread_id=2**40) is None
    assert thread_get(viewer_id=member, thread_id=-1) is None
