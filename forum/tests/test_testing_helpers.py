"""The kernel's test helpers that every app's tests lean on: the outbox worker and signed-in clients."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from forum import bus
from forum.testing.bus_app.events import SampleRecorded
from forum.testing.bus_app.models import HandlerEffect
from forum.testing.clients import session_key_for
from forum.testing.outbox import OutboxWorker

pytestmark = pytest.mark.django_db


def publish(key: str) -> None:
    with transaction.atomic():
        bus.publish(SampleRecorded(key=key, value="v"))


def test_the_outbox_worker_runs_its_prefixes_subscribers_once_per_event(redis_namespace: str) -> None:
    publish("one")
    publish("two")
    worker = OutboxWorker("testing_bus.")
    assert worker(only="testing_bus.sample_recorded") == 2
    assert worker() == 0  # nothing new
    assert sorted(HandlerEffect.objects.values_list("key", flat=True)) == ["one", "two"]

    # Redelivered, the bus's once-per-event record keeps the handler from acting twice.
    assert worker.redeliver("testing_bus.sample_recorded") == 2
    assert HandlerEffect.objects.count() == 2

    publish("skipped")
    worker.skip()
    assert worker() == 0
    assert OutboxWorker("someone_else.")(only=None) == 0  # no subscriber of that prefix
    with pytest.raises(ValueError):
        OutboxWorker()


def test_clients_are_signed_in_as_the_member_or_a_guest(
    make_member: Callable[..., int],
    web_as: Callable[[int | None], Client],
    api_as: Callable[[int | None], APIClient],
) -> None:
    member = make_member()
    assert web_as(member).session["_auth_user_id"] == str(member)
    assert "_auth_user_id" not in web_as(None).session
    me = api_as(member).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["id"] == member
    assert api_as(None).get("/api/v1/me").status_code in (401, 403)

    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = session_key_for(member)
    assert browser.session["_auth_user_id"] == str(member)


def test_free_ports_are_distinct_and_free() -> None:
    """The ports of one server's several listeners (SeaweedFS has eight) are chosen together: none is
    handed out twice, as the kernel may do for ports chosen one after another."""
    from forum.testing.processes import free_ports

    ports = free_ports(64)
    assert len(set(ports)) == 64
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
