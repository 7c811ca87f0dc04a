"""Facts the payment app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

import datetime

from forum.events import Event, event


@event("payment.invoice_created", version=1)
class InvoiceCreated(Event):
    invoice_id: str
    member_id: int
    product_app: str
    product_code: str
    product_ref: str
    amount_sats: int
    address: str
    expires_at: datetime.datetime
    # For a fiat price: its hundredths, the currency and the price of one bitcoin used (a decimal string).
    fiat_currency: str = ""
    fiat_amount_cents: int | None = None
    fiat_rate: str = ""


@event("payment.invoice_settled", version=1)
class InvoiceSettled(Event):
    """Published once per invoice: the selling app (``product_app``) fulfils ``product_code`` and
    ``product_ref`` for ``member_id``, idempotently (keyed by ``invoice_id``). ``manual`` when staff
    settled it."""

    invoice_id: str
    member_id: int
    product_app: str
    product_code: str
    product_ref: str
    amount_sats: int
    paid_sats: int
    settled_at: datetime.datetime
    manual: bool = False


@event("payment.invoice_expired", version=1)
class InvoiceExpired(Event):
    """Too little (``paid_sats`` may be above 0) arrived before the expiry, or staff cancelled it."""

    invoice_id: str
    member_id: int
    amount_sats: int
    paid_sats: int


@event("payment.invoice_invalid", version=1)
class InvoiceInvalid(Event):
    """A payment seen before vanished (replaced, or reorganised out) and what is left does not cover it."""

    invoice_id: str
    member_id: int
    amount_sats: int
    paid_sats: int


@event("payment.invoice_flagged", version=1)
class InvoiceFlagged(Event):
    """For staff: ``flag`` is ``overpaid`` or ``late``."""

    invoice_id: str
    member_id: int
    flag: str
    amount_sats: int
    paid_sats: int
