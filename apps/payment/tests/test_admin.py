"""The Django admin of payments, as staff use it: the invoice list with its filters, search and the
gap-limit warning, an invoice's payments and history, and settling or cancelling with a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.payment import services
from apps.payment.models import Invoice, InvoiceEvent

Pay = Callable[..., None]
Outbox = Callable[[str], list[dict[str, Any]]]
INVOICES = "/admin/payment/invoice/"


@pytest.fixture
def admin_client_of(make_member: Callable[..., int], django_user_model: Any) -> tuple[int, Client]:
    staff = make_member(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(django_user_model.objects.get(pk=staff))
    return staff, client


def new_invoice(member_id: int, product: services.ProductRef) -> services.InvoiceRef:
    return services.invoice_create(
        member_id=member_id, product_app=product.app_label, product_code=product.code
    )


def test_the_invoice_list_filters_and_searches_at_constant_queries(
    alice: int, bob: int, product: services.ProductRef, admin_client_of: tuple[int, Client], pay: Pay
) -> None:
    _staff, client = admin_client_of
    first = new_invoice(alice, product)
    client.get(INVOICES)
    with CaptureQueriesContext(connection) as one:
        assert client.get(INVOICES).status_code == 200
    others = [new_invoice(bob, product) for _ in range(5)]
    with CaptureQueriesContext(connection) as many:
        page = client.get(INVOICES)
    assert len(many) == len(one)
    assert all(invoice.public_id in page.text for invoice in [first, *others])

    pay(first.public_id, amount=60_000)
    services.invoice_check(public_id=first.public_id)
    flagged = client.get(INVOICES, {"flagged": "overpaid"}).text
    assert first.public_id in flagged and others[0].public_id not in flagged
    assert first.public_id not in client.get(INVOICES, {"flagged": "late"}).text
    assert others[0].public_id in client.get(INVOICES, {"state__exact": "new"}).text

    by_id = client.get(INVOICES, {"q": first.public_id}).text
    assert first.public_id in by_id and others[0].public_id not in by_id
    by_address = client.get(INVOICES, {"q": others[1].address}).text
    assert others[1].public_id in by_address and first.public_id not in by_address
    by_member = client.get(
        INVOICES, {"q": Invoice.objects.get(public_id=first.public_id).member.username}
    ).text
    assert first.public_id in by_member and others[0].public_id not in by_member

    detail = client.get(f"{INVOICES}{Invoice.objects.get(public_id=first.public_id).pk}/change/")
    assert detail.status_code == 200
    assert "60000" in detail.text and "payment_seen" in detail.text and "flagged_overpaid" in detail.text


def test_the_gap_limit_warning_tops_the_invoice_list(
    alice: int, product: services.ProductRef, admin_client_of: tuple[int, Client], settings: Any
) -> None:
    _staff, client = admin_client_of
    settings.PAYMENT_GAP_LIMIT = 2
    for _ in range(2):
        new_invoice(alice, product)
    assert "gap limit" not in client.get(INVOICES).text
    new_invoice(alice, product)
    assert "3 unpaid addresses follow the last paid one" in client.get(INVOICES).text


def act(client: Client, action: str, invoice: services.InvoiceRef, reason: str | None) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [Invoice.objects.get(public_id=invoice.public_id).pk]}
    if reason is not None:
        data |= {"apply": "1", "reason": reason}
    return client.post(INVOICES, data)


def test_settling_by_hand_asks_a_reason_and_records_it_once(
    alice: int, product: services.ProductRef, admin_client_of: tuple[int, Client], outbox: Outbox
) -> None:
    staff, client = admin_client_of
    invoice = new_invoice(alice, product)
    asked = act(client, "settle", invoice, None)
    assert asked.status_code == 200 and 'name="reason"' in asked.text and invoice.public_id in asked.text
    assert act(client, "settle", invoice, "").status_code == 200  # no reason: asked again
    assert Invoice.objects.get(public_id=invoice.public_id).state == "new"

    done = act(client, "settle", invoice, "paid by a transfer the watcher cannot see")
    assert done.status_code == 302
    assert Invoice.objects.get(public_id=invoice.public_id).state == "settled"
    entry = InvoiceEvent.objects.get(invoice__public_id=invoice.public_id, kind="settled_manually")
    assert (entry.detail, entry.actor_id) == ("paid by a transfer the watcher cannot see", staff)
    act(client, "settle", invoice, "again")
    events = outbox("payment.invoice_settled")
    assert len(events) == 1 and events[0]["manual"] is True
    assert (
        InvoiceEvent.objects.filter(invoice__public_id=invoice.public_id, kind="settled_manually").count()
        == 1
    )


def test_cancelling_asks_a_reason_and_closes_the_invoice(
    alice: int, product: services.ProductRef, admin_client_of: tuple[int, Client], outbox: Outbox
) -> None:
    staff, client = admin_client_of
    invoice = new_invoice(alice, product)
    assert act(client, "cancel", invoice, "a duplicate").status_code == 302
    assert Invoice.objects.get(public_id=invoice.public_id).state == "expired"
    entry = InvoiceEvent.objects.get(invoice__public_id=invoice.public_id, kind="cancelled")
    assert (entry.detail, entry.actor_id) == ("a duplicate", staff)
    assert [event["invoice_id"] for event in outbox("payment.invoice_expired")] == [invoice.public_id]


def test_products_are_listed_and_only_taken_off_sale(
    product: services.ProductRef, admin_client_of: tuple[int, Client]
) -> None:
    _staff, client = admin_client_of
    listed = client.get("/admin/payment/product/")
    assert listed.status_code == 200 and "agent-30" in listed.text
    assert client.get("/admin/payment/product/add/").status_code == 403
