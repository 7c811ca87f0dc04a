"""The notification admin names the recipient, the actors and the thread, never their ids, in one lookup
each per page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import role_assign
from apps.notification.models import Notification
from apps.notification.tests.conftest import Handler, Member, Tree, start_thread
from apps.thread import services as threads

LIST_URL = "/admin/notification/notification/"


def test_notifications_are_listed_by_names_in_the_same_queries_for_any_number(
    tree: Tree,
    alice: int,
    member_with_mail: Member,
    handle: Handler,
    make_member: Callable[..., int],
    django_user_model: Any,
) -> None:
    support = make_member()
    role_assign(user_id=support, role="support")
    client = Client()
    client.force_login(django_user_model.objects.get(pk=support))

    def name(user_id: int) -> str:
        return str(django_user_model.objects.get(pk=user_id).username)

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST_URL)
        assert response.status_code == 200
        return len(captured), " ".join(response.content.decode().split())

    thread_id, _first = start_thread(alice, tree.general, title="Boats")
    first_replier = member_with_mail()
    threads.post_create(author_id=first_replier, thread_id=thread_id, body="I like boats")
    handle()
    client.get(LIST_URL)  # the session's first request records it; the ones measured are ordinary
    one, html = queries()
    assert f'<td class="field-actors">{name(first_replier)}</td>' in html
    assert '<td class="field-thread">Boats</td>' in html

    for number in range(12):  # more threads, each with a reply that reaches its starter
        other_thread, _first = start_thread(member_with_mail(), tree.general, title=f"Ships {number}")
        threads.post_create(author_id=member_with_mail(), thread_id=other_thread, body="Ahoy")
    handle()
    assert Notification.objects.count() == 13
    many, html = queries()
    assert many == one
    assert '<td class="field-thread">Ships 11</td>' in html

    row = Notification.objects.get(thread_id=thread_id)
    page = " ".join(client.get(f"{LIST_URL}{row.pk}/change/").content.decode().split())
    assert f"<title>thread.reply for {name(alice)} |" in page
    assert f'<div class="readonly">{name(first_replier)}</div>' in page
    assert '<div class="readonly">Boats</div>' in page
