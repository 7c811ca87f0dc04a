"""Reports: a member reports a post, a thread, a member or a dialog message they take part in; reports
on one object merge into one open ticket; the quota; a dialog message reaches support only as the
evidence copied into the ticket, and every staff look at it is logged; the reporters hear the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.authorization.services import access_ban_set, quota_remaining
from apps.dialog.services import dialog_start, message_create
from apps.notification.services import notifications_page
from apps.support import services
from apps.support.models import Evidence, EvidenceView, Report, Ticket
from apps.support.tests.conftest import Content, Handler
from apps.thread.services import post_delete, thread_create
from forum.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed


def test_reports_on_one_post_merge_into_one_ticket_with_every_reason(
    content: Content, reporter: int, other: int, make_member: Callable[..., int], outbox: Any
) -> None:
    first = services.report_file(
        reporter_id=reporter,
        target_kind="post",
        target_id=content.first_post_id,
        reason="spam",
        comment="Ads",
    )
    third_member = make_member()
    second = services.report_file(
        reporter_id=other, target_kind="post", target_id=content.first_post_id, reason="illegal"
    )
    third = services.report_file(
        reporter_id=third_member, target_kind="post", target_id=content.first_post_id, reason="spam"
    )
    assert not first.merged and second.merged and third.merged
    assert first.ticket_id == second.ticket_id == third.ticket_id
    ticket = Ticket.objects.get(pk=first.ticket_id)
    assert ticket.kind == "report" and ticket.state == "open" and ticket.member_id is None
    assert ticket.report_count == 3
    assert ticket.reasons == ["spam", "illegal"]
    # Illegal content goes up the queue.
    assert ticket.get_priority_display() == "High"
    assert ticket.link_kind == "post" and ticket.link_id == content.first_post_id
    report = Report.objects.get(pk=first.id)
    assert report.excerpt == "Buy now at example.com" and report.target_label == "Cheap watches"
    assert [event["merged"] for event in outbox("support.report_filed")] == [False, True, True]
    assert len(outbox("support.ticket_opened")) == 1


def test_a_member_reports_an_object_once_while_its_ticket_is_open(content: Content, reporter: int) -> None:
    services.report_file(
        reporter_id=reporter, target_kind="thread", target_id=content.thread_id, reason="spam"
    )
    with pytest.raises(Conflict) as refused:
        services.report_file(
            reporter_id=reporter, target_kind="thread", target_id=content.thread_id, reason="abuse"
        )
    assert refused.value.code == "already_reported"
    assert Report.objects.count() == 1


def test_a_resolved_ticket_takes_no_more_reports_a_new_one_opens(
    content: Content, reporter: int, support: int
) -> None:
    first = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    )
    services.report_resolve(actor_id=support, ticket_id=first.ticket_id, outcome="no_action")
    again = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    )
    assert not again.merged and again.ticket_id != first.ticket_id
    # The old ticket cannot be reopened beside the new one: reports on an object gather in one.
    with pytest.raises(Conflict) as refused:
        services.ticket_state_set(actor_id=support, ticket_id=first.ticket_id, state="open")
    assert refused.value.code == "newer_ticket_open"


def test_what_the_reporter_cannot_see_cannot_be_reported(
    content: Content, reporter: int, author: int, other: int
) -> None:
    post_delete(user_id=other, post_id=content.reply_id)
    with pytest.raises(NotFound):
        services.report_file(
            reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
        )
    with pytest.raises(NotFound):
        services.report_file(reporter_id=reporter, target_kind="post", target_id=10**12, reason="spam")
    with pytest.raises(NotFound):
        services.report_file(reporter_id=reporter, target_kind="member", target_id=10**12, reason="abuse")
    with pytest.raises(ValidationFailed) as own:
        services.report_file(
            reporter_id=author, target_kind="thread", target_id=content.thread_id, reason="spam"
        )
    assert own.value.code == "report_self"
    with pytest.raises(ValidationFailed) as no_comment:
        services.report_file(reporter_id=reporter, target_kind="member", target_id=author, reason="other")
    assert no_comment.value.code == "comment_required"
    assert not Ticket.objects.exists()


def test_reports_a_day_are_a_quota_of_the_permission_engine(
    content: Content, make_member: Callable[..., int], author: int
) -> None:
    spammer = make_member()
    targets = [make_member() for _number in range(21)]
    for target in targets[:20]:
        services.report_file(reporter_id=spammer, target_kind="member", target_id=target, reason="spam")
    with pytest.raises(RateLimited):
        services.report_file(reporter_id=spammer, target_kind="member", target_id=targets[20], reason="spam")
    # A refused report gives its use back: a duplicate does not eat the day's allowance.
    services.report_file(reporter_id=author, target_kind="member", target_id=targets[0], reason="spam")
    with pytest.raises(Conflict):
        services.report_file(reporter_id=author, target_kind="member", target_id=targets[0], reason="spam")
    assert quota_remaining(user_id=author, permission="report.create_per_day").remaining == 19


def test_a_banned_member_cannot_report(content: Content, reporter: int) -> None:
    access_ban_set(user_id=reporter)
    with pytest.raises(Forbidden):
        services.report_file(
            reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
        )


def _dialog(reporter: int, author: int) -> list[int]:
    dialog = dialog_start(starter_id=author, recipient_id=reporter)
    ids = []
    for number, (writer, body) in enumerate(
        [
            (author, "hi"),
            (reporter, "hello"),
            (author, "a"),
            (author, "b"),
            (author, "you are an idiot"),
            (reporter, "stop"),
            (author, "c"),
            (author, "d"),
            (author, "e"),
            (author, "f"),
        ]
    ):
        ids.append(message_create(author_id=writer, dialog_id=dialog.id, body=f"{body} {number}").id)
    return ids


def test_a_reported_message_is_copied_with_the_messages_around_it(
    reporter: int, author: int, support: int, other: int
) -> None:
    ids = _dialog(reporter, author)
    reported = ids[4]
    report = services.report_file(
        reporter_id=reporter, target_kind="message", target_id=reported, reason="abuse"
    )
    ticket = Ticket.objects.get(pk=report.ticket_id)
    assert ticket.reported_member_id == author
    copied = list(Evidence.objects.filter(ticket=ticket).order_by("message_id"))
    assert [row.message_id for row in copied] == ids[1:8]
    assert [row.reported for row in copied] == [False, False, False, True, False, False, False]
    assert "you are an idiot" in copied[3].body_html

    # Only staff read it, and every look is logged.
    assert not EvidenceView.objects.exists()
    evidence = services.ticket_evidence(staff_id=support, ticket_id=ticket.pk)
    assert [item.message_id for item in evidence] == ids[1:8]
    services.ticket_evidence(staff_id=support, ticket_id=ticket.pk, surface="api")
    assert list(EvidenceView.objects.order_by("id").values_list("staff_id", "surface")) == [
        (support, "page"),
        (support, "api"),
    ]
    for nobody in (reporter, author, other):
        with pytest.raises(NotFound):
            services.ticket_evidence(staff_id=nobody, ticket_id=ticket.pk)
    assert EvidenceView.objects.count() == 2


def test_nobody_reports_a_message_of_a_dialog_they_are_not_in(reporter: int, author: int, other: int) -> None:
    ids = _dialog(reporter, author)
    with pytest.raises(NotFound):
        services.report_file(reporter_id=other, target_kind="message", target_id=ids[4], reason="abuse")
    assert not Evidence.objects.exists() and not Ticket.objects.exists()


@pytest.mark.parametrize("outcome", ["action_taken", "no_action"])
def test_reporters_are_told_the_outcome_and_nothing_more(
    content: Content, reporter: int, other: int, support: int, handle: Handler, outbox: Any, outcome: str
) -> None:
    first = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.first_post_id, reason="spam"
    )
    services.report_file(
        reporter_id=other, target_kind="post", target_id=content.first_post_id, reason="spam"
    )
    handle.skip()
    services.report_resolve(
        actor_id=support, ticket_id=first.ticket_id, outcome=outcome, note="Author warned"
    )
    handle()
    for member in (reporter, other):
        page = notifications_page(user_id=member)
        assert [item.kind for item in page.items] == ["support.report_resolved"]
        text = page.items[0].text
        assert ("action was taken" in text) == (outcome == "action_taken")
        assert "warned" not in text
        assert page.items[0].url == f"/support/tickets/{first.ticket_id}/"
    [resolved] = outbox("support.report_resolved")
    assert resolved["outcome"] == outcome and sorted(resolved["reporter_ids"]) == sorted([reporter, other])
    ticket = Ticket.objects.get(pk=first.ticket_id)
    assert ticket.state == "resolved" and ticket.outcome == outcome
    # The note stays with staff.
    assert ticket.messages.get().internal


def test_resolving_a_report_is_for_staff_and_only_once(content: Content, reporter: int, support: int) -> None:
    report = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    )
    with pytest.raises(NotFound):
        services.report_resolve(actor_id=10**12, ticket_id=report.ticket_id, outcome="no_action")
    with pytest.raises(Forbidden):
        services.report_resolve(actor_id=reporter, ticket_id=report.ticket_id, outcome="no_action")
    with pytest.raises(ValidationFailed):
        services.report_resolve(actor_id=support, ticket_id=report.ticket_id, outcome="banned")
    services.report_resolve(actor_id=support, ticket_id=report.ticket_id, outcome="action_taken")
    with pytest.raises(Conflict):
        services.report_resolve(actor_id=support, ticket_id=report.ticket_id, outcome="no_action")
    # A report's ticket has no member to answer.
    with pytest.raises(Conflict):
        services.ticket_reply(author_id=support, ticket_id=report.ticket_id, body="Hello?")


def test_a_thread_awaiting_moderation_is_not_there_for_other_members(
    content: Content, reporter: int, make_member: Callable[..., int], support: int
) -> None:
    newcomer = make_member()  # no Reader status: their thread waits for a moderator
    waiting = thread_create(
        author_id=newcomer, forum_id=content.forum_id, title="Buy followers", body="cheap"
    )
    assert waiting.state == "pending"
    with pytest.raises(NotFound):
        services.report_file(reporter_id=reporter, target_kind="thread", target_id=waiting.id, reason="spam")
    # Moderators see it, and may report it as anyone may report what they see.
    report = services.report_file(
        reporter_id=support, target_kind="thread", target_id=waiting.id, reason="spam"
    )
    assert Ticket.objects.get(pk=report.ticket_id).reported_member_id == newcomer
