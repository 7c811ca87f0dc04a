"""SLA breaches at /metrics: tickets past a target now, and every ticket that ever missed one."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from apps.support import services
from apps.support.models import HelpTopic
from forum.testing.fixtures import Clock


def samples() -> dict[tuple[str, str], float]:
    answer = Client().get("/metrics")
    assert answer.status_code == 200
    found = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            if sample.name.startswith("forum_support_") or sample.name == "forum_metrics_collector_up":
                found[(sample.name, sample.labels.get("target") or sample.labels.get("collector", ""))] = (
                    sample.value
                )
    return found


def test_sla_breaches_are_counted(reporter: int, support: int, clock: Clock) -> None:
    topic = HelpTopic.objects.get(code="account").pk
    answered = services.ticket_open(member_id=reporter, topic_id=topic, subject="A", body="a").id
    waiting = services.ticket_open(member_id=reporter, topic_id=topic, subject="B", body="b").id
    assert samples()[("forum_support_sla_breached_tickets", "first_response")] == 0
    assert samples()[("forum_metrics_collector_up", "support_sla")] == 1

    clock.move(hours=25)  # past the first response target of a normal ticket (24 hours)
    services.ticket_reply(author_id=support, ticket_id=answered, body="Sorry for the wait")
    now = samples()
    assert now[("forum_support_sla_breached_tickets", "first_response")] == 1  # waiting
    assert now[("forum_support_sla_breaches", "first_response")] == 2  # answered late, and waiting
    assert now[("forum_support_sla_breached_tickets", "resolution")] == 0

    clock.move(hours=48)  # past the resolution target (72 hours)
    services.ticket_state_set(actor_id=support, ticket_id=waiting, state="resolved")
    later = samples()
    assert later[("forum_support_sla_breached_tickets", "resolution")] == 1  # answered, still open
    assert later[("forum_support_sla_breaches", "resolution")] == 2
    assert later[("forum_support_sla_breached_tickets", "first_response")] == 0
