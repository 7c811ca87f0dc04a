"""The demo's invoices (manage.py seed_payment): paid on the development chain, in every state a
member's list shows, one in US dollars; a second run changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command

from apps.payment import services
from apps.payment.models import Invoice


def test_the_demo_member_has_invoices_in_each_state(django_user_model: Any) -> None:
    jonas = django_user_model.objects.create_user(username="jonas").pk
    services.product_register(
        app_label="status", code="status-plan:1", title="Agent, 30 days", price_sats=50_000
    )
    services.product_register(
        app_label="status", code="status-plan:2", title="Agent, 365 days", price_sats=400_000
    )
    call_command("seed_payment")
    page = services.invoices_page(member_id=jonas)
    by_state = sorted((invoice.state, invoice.title, invoice.fiat_amount) for invoice in page.items)
    assert by_state == [
        ("expired", "Agent, 30 days", ""),
        ("new", "Agent, 30 days", "5.00 USD"),
        ("new", "Agent, 365 days", ""),
        ("settled", "Agent, 30 days", ""),
    ]
    partial = next(invoice for invoice in page.items if invoice.amount_sats == 400_000)
    assert 0 < partial.paid_sats < partial.amount_sats
    settled = next(invoice for invoice in page.items if invoice.state == "settled")
    assert services.invoice_receipt(public_id=settled.public_id, viewer_id=jonas).payments
    call_command("seed_payment")
    assert Invoice.objects.count() == 4
