"""Invoices paid with real signed transactions on the development chain, read by the watcher over
HTTP from the chain's Esplora API (the live server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.payment import services
from apps.payment.models import Payment
from forum.errors import NotFound
from forum.testing.fixtures import Clock

from .conftest import PRICE

Pay = Callable[..., None]
Outbox = Callable[[str], list[dict[str, Any]]]


def new_invoice(member_id: int, product: services.ProductRef) -> services.InvoiceRef:
    return services.invoice_create(
        member_id=member_id, product_app=product.app_label, product_code=product.code
    )


def check(invoice: services.InvoiceRef) -> services.InvoiceRef:
    return services.invoice_check(public_id=invoice.public_id)


def test_an_exact_payment_settles_after_n_confirmations_once(
    alice: int, product: services.ProductRef, pay: Pay, outbox: Outbox, settings: Any
) -> None:
    settings.PAYMENT_CONFIRMATIONS = [(0, 2)]
    invoice = new_invoice(alice, product)
    assert (invoice.state, invoice.required_confirmations, invoice.amount_sats) == ("new", 2, PRICE)
    assert invoice.address.startswith("bcrt1q")

    pay(invoice.public_id)
    seen = check(invoice)
    assert (seen.state, seen.paid_sats, seen.due_sats) == ("processing", PRICE, 0)
    pay(confirm=1)
    assert check(invoice).state == "processing"
    pay(confirm=1)
    settled = check(invoice)
    assert settled.state == "settled" and settled.settled_at is not None
    pay(confirm=1)
    assert check(invoice).state == "settled"
    events = outbox("payment.invoice_settled")
    assert len(events) == 1
    assert events[0]["invoice_id"] == invoice.public_id
    assert (events[0]["product_app"], events[0]["product_code"], events[0]["paid_sats"]) == (
        "status",
        "agent-30",
        PRICE,
    )
    assert not settled.overpaid and not settled.late


def test_partial_payments_add_up_at_the_same_address(
    alice: int, product: services.ProductRef, pay: Pay
) -> None:
    invoice = new_invoice(alice, product)
    pay(invoice.public_id, amount=20_000, confirm=1)
    partial = check(invoice)
    assert (partial.state, partial.paid_sats, partial.due_sats) == ("new", 20_000, 30_000)
    pay(invoice.public_id, confirm=1)  # the rest, by default
    done = check(invoice)
    assert (done.state, done.paid_sats, done.overpaid) == ("settled", PRICE, False)
    assert Payment.objects.filter(invoice__public_id=invoice.public_id).count() == 2


def test_an_overpaid_invoice_settles_and_is_flagged(
    alice: int, product: services.ProductRef, pay: Pay, outbox: Outbox
) -> None:
    invoice = new_invoice(alice, product)
    pay(invoice.public_id, amount=PRICE + 7_000, confirm=1)
    done = check(invoice)
    assert (done.state, done.paid_sats, done.overpaid) == ("settled", PRICE + 7_000, True)
    check(invoice)
    assert [event["flag"] for event in outbox("payment.invoice_flagged")] == ["overpaid"]


def test_too_little_before_the_expiry_expires(
    alice: int, product: services.ProductRef, pay: Pay, outbox: Outbox, clock: Clock
) -> None:
    invoice = new_invoice(alice, product)
    pay(invoice.public_id, amount=10_000, confirm=1)
    assert check(invoice).state == "new"
    clock.move(minutes=31)
    expired = check(invoice)
    assert (expired.state, expired.paid_sats) == ("expired", 10_000)
    assert [event["paid_sats"] for event in outbox("payment.invoice_expired")] == [10_000]


def test_a_late_payment_within_the_grace_settles_flagged_and_after_it_waits_for_staff(
    alice: int, bob: int, product: services.ProductRef, pay: Pay, clock: Clock, outbox: Outbox
) -> None:
    within = new_invoice(alice, product)
    after = new_invoice(bob, product)
    clock.move(minutes=31)
    assert check(within).state == "expired"
    assert check(after).state == "expired"
    pay(within.public_id, confirm=1)
    late = check(within)
    assert (late.state, late.late) == ("settled", True)

    clock.move(minutes=60)  # past the 60-minute grace
    pay(after.public_id, confirm=1)
    waiting = check(after)
    assert (waiting.state, waiting.late, waiting.paid_sats) == ("expired", True, PRICE)
    assert [event["invoice_id"] for event in outbox("payment.invoice_settled")] == [within.public_id]


def test_a_reorganisation_before_n_confirmations_goes_back_to_what_the_payments_justify(
    alice: int, bob: int, product: services.ProductRef, pay: Pay, settings: Any, outbox: Outbox
) -> None:
    settings.PAYMENT_CONFIRMATIONS = [(0, 2)]
    back_to_mempool = new_invoice(alice, product)
    pay(back_to_mempool.public_id, confirm=1)
    assert check(back_to_mempool).state == "processing"
    pay(reorg=1)  # the block with the payment is replaced: the transaction returns to the mempool
    check(back_to_mempool)
    assert Payment.objects.get(invoice__public_id=back_to_mempool.public_id).block_height is None
    pay(confirm=1)
    assert check(back_to_mempool).state == "processing"  # one confirmation again, not two
    pay(confirm=1)
    assert check(back_to_mempool).state == "settled"

    vanished = new_invoice(bob, product)
    pay(vanished.public_id, confirm=1)
    assert check(vanished).state == "processing"
    pay(reorg=1, drop=True)  # a conflicting transaction won: ours is gone
    invalid = check(vanished)
    assert (invalid.state, invalid.paid_sats) == ("invalid", 0)
    assert [event["invoice_id"] for event in outbox("payment.invoice_invalid")] == [vanished.public_id]
    assert [event["invoice_id"] for event in outbox("payment.invoice_settled")] == [back_to_mempool.public_id]


def test_the_watcher_backs_off_while_the_api_is_down_and_catches_up_after(
    alice: int, product: services.ProductRef, pay: Pay, settings: Any, clock: Clock, chain_api: str
) -> None:
    invoice = new_invoice(alice, product)
    pay(invoice.public_id, confirm=1)
    settings.PAYMENT_ESPLORA_URL = "http://127.0.0.1:9/dev/esplora"  # the discard port: nothing listens
    settings.PAYMENT_ESPLORA_TIMEOUT_SECONDS = 2.0
    failed = services.invoices_watch()
    assert failed.error and failed.checked == 0
    assert services.invoices_watch().skipped_backoff
    status = services.watcher_status()
    assert status["failures"] == 1 and status["behind"] is True

    settings.PAYMENT_ESPLORA_URL = chain_api  # back
    assert services.invoices_watch().skipped_backoff  # still waiting out the back-off
    clock.move(seconds=settings.PAYMENT_BACKOFF_SECONDS + 1)
    caught_up = services.invoices_watch()
    assert (caught_up.checked, caught_up.error) == (1, "")
    assert services.invoice_get(public_id=invoice.public_id, viewer_id=alice).state == "settled"
    assert services.watcher_status()["failures"] == 0


def test_two_workers_checking_at_once_settle_once(
    alice: int, product: services.ProductRef, pay: Pay, outbox: Outbox
) -> None:
    invoice = new_invoice(alice, product)
    pay(invoice.public_id, confirm=1)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            check(invoice)
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(outbox("payment.invoice_settled")) == 1


def test_a_member_cannot_read_another_members_invoice(
    alice: int, bob: int, product: services.ProductRef
) -> None:
    invoice = new_invoice(alice, product)
    assert services.invoice_get(public_id=invoice.public_id, viewer_id=alice).address == invoice.address
    with pytest.raises(NotFound):
        services.invoice_get(public_id=invoice.public_id, viewer_id=bob)
    with pytest.raises(NotFound):
        services.invoice_get(public_id=invoice.public_id, viewer_id=None)
    assert services.invoices_of(member_id=bob) == []
