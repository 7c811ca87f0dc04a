"""The Django admin as support staff use it, without code: the ticket list with its filters and time
left, a ticket with its conversation, reports and history, a reply with a canned text, the actions;
what support may not do there (add or delete tickets, change topics)."""

from __future__ import annotations

from apps.support import services
from apps.support.models import CannedReply, HelpTopic, Ticket
from apps.support.tests.conftest import Content, Web
from forum.testing.fixtures import Clock


def _ticket(member: int, subject: str = "Lost my password") -> int:
    topic = HelpTopic.objects.get(code="account").pk
    return services.ticket_open(member_id=member, topic_id=topic, subject=subject, body="Please help").id


def test_support_find_tickets_by_state_sla_and_assignee(
    web: Web, reporter: int, support: int, clock: Clock
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    late = _ticket(reporter, "Old question")
    clock.move(hours=30)  # past the normal first response target (24 hours)
    fresh = _ticket(reporter, "New question")
    services.ticket_assign(actor_id=support, ticket_id=fresh, assignee_id=support)
    admin = web(support)
    listing = admin.get("/admin/support/ticket/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Old question" in html and "New question" in html and "late by" in html
    breached = admin.get("/admin/support/ticket/?sla=breached").content.decode()
    assert "Old question" in breached and "New question" not in breached
    mine = admin.get("/admin/support/ticket/?assigned=me").content.decode()
    assert "New question" in mine and "Old question" not in mine
    assert f"#{late}" in admin.get(f"/admin/support/ticket/?q={late}").content.decode()


def test_support_answer_from_the_admin_with_a_canned_reply(
    web: Web, reporter: int, support: int, django_user_model: object
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    ticket_id = _ticket(reporter)
    canned = CannedReply.objects.create(title="Reset", body="Hi {member}, see the reset link ({ticket}).")
    admin = web(support)
    page = admin.get(f"/admin/support/ticket/{ticket_id}/change/")
    assert page.status_code == 200 and "Please help" in page.content.decode()
    answer = admin.post(
        f"/admin/support/ticket/{ticket_id}/change/",
        {
            "set_state": "open",
            "set_outcome": "",
            "set_priority": "2",
            "set_assignee": "",
            "canned": str(canned.pk),
            "reply": "",
            "internal": "",
            **_empty_inlines(),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    ticket = Ticket.objects.get(pk=ticket_id)
    reply = ticket.messages.order_by("id").last()
    assert reply is not None and reply.author_id == support and not reply.internal
    assert reply.body.endswith(f"(#{ticket_id}).")
    # Replying answers the member: the ticket now waits on them, and is the replier's.
    assert ticket.state == "waiting_on_member" and ticket.assignee_id == support


def test_the_actions_assign_resolve_and_close(
    web: Web, reporter: int, support: int, content: Content
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    request = _ticket(reporter)
    report = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    )
    admin = web(support)
    changelist = "/admin/support/ticket/"
    both = [str(request), str(report.ticket_id)]
    admin.post(changelist, {"action": "assign_to_me", "_selected_action": both})
    assert set(Ticket.objects.values_list("assignee_id", flat=True)) == {support}
    # A report needs its outcome: "resolve" refuses it with the reason and resolves the request.
    answer = admin.post(changelist, {"action": "resolve", "_selected_action": both}, follow=True)
    assert "Say how the report ended" in answer.content.decode()
    assert Ticket.objects.get(pk=request).state == "resolved"
    assert Ticket.objects.get(pk=report.ticket_id).state == "open"
    admin.post(changelist, {"action": "resolve_no_action", "_selected_action": [str(report.ticket_id)]})
    resolved = Ticket.objects.get(pk=report.ticket_id)
    assert (resolved.state, resolved.outcome) == ("resolved", "no_action")
    # The list shows active tickets unless told otherwise; resolved ones are closed from "All".
    admin.post(f"{changelist}?state=all", {"action": "close", "_selected_action": both})
    assert set(Ticket.objects.values_list("state", flat=True)) == {"closed"}


def test_what_support_may_not_do_in_the_admin(web: Web, reporter: int, support: int, admin: int) -> None:
    ticket_id = _ticket(reporter)
    staff = web(support)
    assert staff.get("/admin/support/ticket/add/").status_code == 403
    assert staff.get(f"/admin/support/ticket/{ticket_id}/delete/").status_code == 403
    topic = HelpTopic.objects.get(code="account").pk
    assert staff.get(f"/admin/support/helptopic/{topic}/change/").status_code == 200  # to look at
    changed = staff.post(f"/admin/support/helptopic/{topic}/change/", {"name": "Hacked", "code": "account"})
    assert changed.status_code == 403
    assert staff.get("/admin/support/cannedreply/add/").status_code == 200
    # Administrators manage the topics and the SLA targets.
    assert web(admin).get("/admin/support/slatarget/").status_code == 200
    assert web(reporter).get("/admin/support/ticket/").status_code == 302  # to the admin's sign-in


def _empty_inlines() -> dict[str, str]:
    """The management forms of the read-only inlines, as the change page posts them."""
    data = {}
    for prefix in ("messages", "reports", "events"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data
