"""A report ticket's subject is made when shown, in the reader's language, from what the report is
about (its kind, the object's id, its title or name), whatever language its first reporter spoke:
on the ticket pages, in the API and in the admin. Tickets filed before keep a sensible subject."""

from __future__ import annotations

import html
from importlib import import_module
from typing import Any

from django.apps import apps as django_apps
from django.utils import translation

from apps.support import services
from apps.support.models import HelpTopic, Ticket
from apps.support.tests.conftest import Api, Content, Web

ENGLISH = "Post #{id} in “Cheap watches”"
RUSSIAN = "Сообщение №{id} в теме «Cheap watches»"


def _pages(web: Web, support: int, ticket_id: int, language: str) -> list[str]:
    browser = web(support)
    paths = [
        f"/support/tickets/{ticket_id}/",
        "/support/queue/",
        "/admin/support/ticket/",
        f"/admin/support/ticket/{ticket_id}/change/",
    ]
    answers = [browser.get(path, HTTP_ACCEPT_LANGUAGE=language) for path in paths]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    return [html.unescape(answer.content.decode()) for answer in answers]


def _api(api_as: Api, support: int, ticket_id: int, language: str) -> list[str]:
    client = api_as(support)
    queue = client.get("/api/v1/support/queue?kind=report", HTTP_ACCEPT_LANGUAGE=language).json()
    detail = client.get(f"/api/v1/support/tickets/{ticket_id}", HTTP_ACCEPT_LANGUAGE=language).json()
    return [queue["tickets"][0]["subject"], detail["ticket"]["subject"]]


def test_a_reports_subject_speaks_the_readers_language(
    web: Web, api_as: Api, content: Content, reporter: int, support: int
) -> None:
    with translation.override("ru"):  # filed by a reporter who reads Russian
        ticket_id = services.report_file(
            reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
        ).ticket_id
    english, russian = ENGLISH.format(id=content.reply_id), RUSSIAN.format(id=content.reply_id)

    for page in _pages(web, support, ticket_id, "en"):
        assert english in page and russian not in page
    for page in _pages(web, support, ticket_id, "ru"):
        assert russian in page and english not in page
    assert _api(api_as, support, ticket_id, "en") == [english, english]
    assert _api(api_as, support, ticket_id, "ru") == [russian, russian]


def test_every_kind_of_report_is_said_in_both_languages(
    content: Content, reporter: int, author: int, django_user_model: Any
) -> None:
    name = django_user_model.objects.get(pk=author).username
    filed = {
        kind: services.report_file(reporter_id=reporter, target_kind=kind, target_id=target, reason="spam")
        for kind, target in (("thread", content.thread_id), ("member", author))
    }
    tickets = {kind: Ticket.objects.get(pk=ref.ticket_id) for kind, ref in filed.items()}
    with translation.override("en"):
        assert tickets["thread"].shown_subject == "Thread “Cheap watches”"
        assert tickets["member"].shown_subject == f"Member {name}"
    with translation.override("ru"):
        assert tickets["thread"].shown_subject == "Тема «Cheap watches»"
        assert tickets["member"].shown_subject == f"Участник {name}"
        assert str(tickets["member"]) == f"#{tickets['member'].pk} Участник {name}"


def test_tickets_filed_before_take_their_title_from_their_first_report(
    web: Web, content: Content, reporter: int, support: int
) -> None:
    ticket_id = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    ).ticket_id
    # As a ticket filed before the subject was made when shown: its words stored, nothing else.
    Ticket.objects.filter(pk=ticket_id).update(subject="Old words", subject_label=None)
    with translation.override("ru"):
        assert Ticket.objects.get(pk=ticket_id).shown_subject == "Old words"  # shown as written

    import_module("apps.support.migrations.0003_report_subject_label").backfill(django_apps, None)

    assert Ticket.objects.get(pk=ticket_id).subject_label == "Cheap watches"
    russian = RUSSIAN.format(id=content.reply_id)
    assert all(russian in page for page in _pages(web, support, ticket_id, "ru"))


def test_a_members_own_subject_is_shown_as_written_in_any_language(web: Web, reporter: int) -> None:
    topic = HelpTopic.objects.get(code="account").pk
    ticket = services.ticket_open(member_id=reporter, topic_id=topic, subject="Avatar broken", body="Help")
    assert Ticket.objects.get(pk=ticket.id).subject_label is None
    for language in ("en", "ru"):
        page = web(reporter).get(f"/support/tickets/{ticket.id}/", HTTP_ACCEPT_LANGUAGE=language)
        assert f"#{ticket.id} Avatar broken" in page.content.decode()
