"""Subscribers of the frame app to the payment app's events: a settled invoice for a frame makes the
member its owner (once per invoice), an expired or invalid one gives its limited-edition unit back.
Each runs in the transaction in which the bus records the event as handled, and calls only this
app's services, which are idempotent on their own as well (keyed by the invoice's id)."""

from __future__ import annotations

from apps.frame import services
from apps.payment.events import InvoiceExpired, InvoiceInvalid, InvoiceSettled
from forum.bus import subscribe


@subscribe(InvoiceSettled, name="frame.on_invoice_settled")
def on_invoice_settled(event: InvoiceSettled) -> None:
    if event.product_app != services.PRODUCT_APP:
        return  # another app's product
    services.purchase_fulfil(
        invoice_id=event.invoice_id,
        member_id=event.member_id,
        product_code=event.product_code,
        paid_sats=event.paid_sats,
    )


@subscribe(InvoiceExpired, name="frame.on_invoice_expired")
def on_invoice_expired(event: InvoiceExpired) -> None:
    services.purchase_release(invoice_id=event.invoice_id)  # nothing for invoices of other apps


@subscribe(InvoiceInvalid, name="frame.on_invoice_invalid")
def on_invoice_invalid(event: InvoiceInvalid) -> None:
    services.purchase_release(invoice_id=event.invoice_id)
