"""Notifications from the status and dialog apps' events, and kinds that other apps register."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.authentication.events import AccountCreated
from apps.dialog import services as dialogs
from apps.notification import services
from apps.notification.events import NotificationRequested
from apps.notification.models import MemberSettings, Notification, PendingDialogNotice
from apps.notification.tests import sample_app
from apps.notification.tests.conftest import Handler
from apps.status.services import status_grant
from apps.user.services import user_brief
from forum.bus import publish
from forum.testing.fixtures import Clock


def kinds(user_id: int) -> list[str]:
    return list(
        Notification.objects.filter(recipient_id=user_id).order_by("id").values_list("kind", flat=True)
    )


def texts(user_id: int) -> list[str]:
    return [item.text for item in services.notifications_page(user_id=user_id).items]


# --- Statuses -----------------------------------------------------------------------------------------


def test_a_status_given_is_notified_but_not_to_staff_who_gave_it_to_themselves(
    alice: int, staff: int, handle: Handler
) -> None:
    status_grant(user_id=alice, status_code="agent", source="staff", granted_by=staff)
    status_grant(user_id=staff, status_code="agent", source="staff", granted_by=staff)
    handle()
    assert texts(alice) == ["You have the status “Agent” now"]
    assert services.notifications_page(user_id=alice).items[0].url == f"/members/{alice}/"
    assert kinds(staff) == []


def test_a_status_that_starts_later_says_from_when(alice: int, handle: Handler, clock: Clock) -> None:
    starts = clock.now + datetime.timedelta(days=3)
    status_grant(user_id=alice, status_code="agent", source="purchase", starts_at=starts)
    handle()
    assert texts(alice) == [f"You have the status “Agent” from {starts.date().isoformat()}"]


def test_a_new_account_gets_its_settings_row(handle: Handler) -> None:
    user = get_user_model().objects.create_user(username="newcomer")
    with transaction.atomic():
        publish(AccountCreated(user_id=user.pk, username="newcomer"))
    handle()
    assert MemberSettings.objects.filter(user_id=user.pk, auto_watch=True, email_enabled=True).exists()


def test_members_are_warned_once_before_a_status_ends(
    alice: int, bob: int, carol: int, handle: Handler, clock: Clock, settings: Any
) -> None:
    settings.NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS = 72
    soon = clock.now + datetime.timedelta(hours=24)
    status_grant(user_id=alice, status_code="agent", source="purchase", ends_at=soon)
    status_grant(
        user_id=bob, status_code="agent", source="purchase", ends_at=clock.now + datetime.timedelta(days=10)
    )
    status_grant(user_id=carol, status_code="agent", source="purchase")  # for good
    handle.skip()

    assert services.statuses_expiring_notify() == 1
    assert services.statuses_expiring_notify() == 0  # the next hour: already warned
    handle()
    assert texts(alice) == [f"Your status “Agent” ends soon, on {soon.date().isoformat()}"]
    assert kinds(bob) == [] and kinds(carol) == []

    clock.move(days=8)  # Bob's end comes within the window
    assert services.statuses_expiring_notify() == 1
    assert kinds(bob) == ["status.expiring"]


# --- Dialogs ------------------------------------------------------------------------------------------


def test_a_dialog_message_is_notified_only_if_still_unseen_after_the_delay(
    alice: int, bob: int, carol: int, handle: Handler, settings: Any
) -> None:
    settings.NOTIFICATION_DIALOG_DELAY_SECONDS = 10
    dialog = dialogs.dialog_group_start(owner_id=alice, title="Trip", participant_ids=[bob, carol])
    handle.skip()
    first = dialogs.message_create(author_id=alice, dialog_id=dialog.id, body="Hi **both**")
    handle()
    # Remembered for both recipients, nobody told yet.
    notices = PendingDialogNotice.objects.filter(message_id=first.id)
    assert sorted(notices.values_list("recipient_id", flat=True)) == [bob, carol]
    assert notices[0].due_at > timezone.now()
    assert kinds(bob) == [] and kinds(carol) == []

    # Carol reads it within the delay; Bob does not.
    dialogs.dialog_mark_read(user_id=carol, dialog_id=dialog.id)
    handle()
    assert services.dialog_notices_deliver(message_id=first.id) == [bob]
    assert kinds(bob) == ["dialog.message"] and kinds(carol) == []
    alice_name = user_brief(user_id=alice).username
    assert texts(bob) == [f"{alice_name} wrote to you: Hi both"]
    assert services.notifications_page(user_id=bob).items[0].url == f"/dialogs/{dialog.id}/"
    assert not PendingDialogNotice.objects.filter(message_id=first.id).exists()

    # A second unseen message updates the same row: two messages now.
    second = dialogs.message_create(author_id=alice, dialog_id=dialog.id, body="Still there?")
    handle()
    services.dialog_notices_deliver(message_id=second.id)
    [row] = Notification.objects.filter(recipient_id=bob)
    assert row.count == 2
    assert texts(bob) == [f"2 new messages, the last from {alice_name}: Still there?"]

    # Reading the dialog reads the notification too.
    dialogs.dialog_mark_read(user_id=bob, dialog_id=dialog.id)
    handle()
    assert services.unread_count(user_id=bob) == 0


def test_the_handler_schedules_the_check_after_the_commit(
    alice: int, bob: int, handle: Handler, django_capture_on_commit_callbacks: Any
) -> None:
    dialog = dialogs.dialog_start(starter_id=alice, recipient_id=bob)
    handle.skip()
    dialogs.message_create(author_id=alice, dialog_id=dialog.id, body="ping")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        handle()
    sends = [
        callback
        for callback in callbacks
        if getattr(callback, "args", ()) == ("notification.dialog_notices_check",)
    ]
    assert len(sends) == 1
    assert sends[0].keywords["countdown"] == 10.0


def test_the_sweep_delivers_notices_whose_check_was_lost(
    alice: int, bob: int, handle: Handler, clock: Clock
) -> None:
    dialog = dialogs.dialog_start(starter_id=alice, recipient_id=bob)
    handle.skip()
    dialogs.message_create(author_id=alice, dialog_id=dialog.id, body="ping")
    handle()
    assert services.dialog_notices_sweep() == 0  # not due yet
    clock.move(minutes=2)
    assert services.dialog_notices_sweep() == 1
    assert kinds(bob) == ["dialog.message"]


# --- Kinds of other apps ------------------------------------------------------------------------------


@pytest.fixture
def sample_kind() -> Iterator[None]:
    sample_app.ready()
    yield
    services.notification_kind_unregister(code=sample_app.TICKET_ANSWERED)


def test_another_app_registers_a_kind_and_notifies_through_an_event(
    sample_kind: None, alice: int, bob: int, handle: Handler
) -> None:
    assert sample_app.TICKET_ANSWERED in [kind.code for kind in services.notification_kinds()]
    with transaction.atomic():
        publish(
            NotificationRequested(
                kind=sample_app.TICKET_ANSWERED,
                recipient_ids=(alice, bob),
                source="ticket:7:answer:1",
                actor_id=bob,
                params={"ticket_id": 7, "subject": "Lost password"},
            )
        )
    handle()
    assert texts(alice) == ["Your ticket “Lost password” has an answer"]
    assert services.notifications_page(user_id=alice).items[0].url == "/support/tickets/7/"
    assert kinds(bob) == []  # the actor
    # Its preferences are there like any other kind's.
    assert sample_app.TICKET_ANSWERED in [
        choice.kind for choice in services.preferences_get(user_id=alice).kinds
    ]


def test_the_registry_refuses_bad_codes_and_a_second_different_kind(sample_kind: None) -> None:
    with pytest.raises(ValueError):
        services.notification_kind_register(sample_app.kind(code="NoDot"))
    with pytest.raises(ValueError):
        services.notification_kind_register(
            sample_app.kind(code=sample_app.TICKET_ANSWERED, default_site=False)
        )
    # The same definition again is fine (an app's ready() may run twice in tests).
    sample_app.ready()
