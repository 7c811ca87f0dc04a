"""manage.py seed_support: demo tickets, reports (merged, of a member, of a dialog message with its
evidence) and canned replies on the demo forum; running it again changes nothing."""

from __future__ import annotations

import io

from django.core.management import call_command

from apps.support.models import CannedReply, Evidence, Report, Ticket
from apps.support.tests.conftest import Web


def test_the_support_demo_is_seeded_once(web: Web, django_user_model: object) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_forum", "--demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_support", stdout=out)
    assert "tickets and reports created" in out.getvalue()
    counts = (Ticket.objects.count(), Report.objects.count(), CannedReply.objects.count())
    assert counts == (6, 4, 3)
    merged = Ticket.objects.get(kind="report", link_kind="post")
    assert merged.report_count == 2 and merged.reasons == ["spam", "off_topic"]
    assert Evidence.objects.filter(reported=True).count() == 1
    assert set(Ticket.objects.values_list("state", flat=True)) == {"open", "waiting_on_member", "resolved"}

    again = io.StringIO()
    call_command("seed_support", stdout=again)
    assert "is there" in again.getvalue()
    assert (Ticket.objects.count(), Report.objects.count(), CannedReply.objects.count()) == counts

    mira = django_user_model.objects.get(username="mira").pk  # type: ignore[attr-defined]
    assert web(mira).get("/support/queue/").status_code == 200
    assert web(mira).get("/admin/support/ticket/").status_code == 200
