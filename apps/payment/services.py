"""Published interface of the payment app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

A selling app registers what it sells with ``product_register`` and fulfils it from the
``payment.invoice_settled`` event (``apps.payment.events.InvoiceSettled``), which names the product
and the ``product_ref`` it gave ``invoice_create``; the event is published exactly once per invoice.
Amounts are whole satoshis (``int``) everywhere; a product priced in a fiat currency is converted
when each invoice is made, at the exchange rate of that moment, which the invoice keeps.
"""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.payment import bitcoin, rates
from apps.payment.esplora import ChainOutput, EsploraClient, EsploraError
from apps.payment.events import InvoiceCreated, InvoiceExpired, InvoiceFlagged, InvoiceInvalid, InvoiceSettled
from apps.payment.models import (
    AddressCursor,
    ExchangeRate,
    Invoice,
    InvoiceEvent,
    InvoiceState,
    Payment,
    Product,
    RateSource,
    WatcherState,
)
from forum.bus import publish
from forum.errors import ApplicationError, NotFound, ValidationFailed
from forum.paging import Page, page_in_range
from forum.ratelimit import rate_limit_hit
from forum.realtime import send_to_topic

__all__ = [
    "INVOICES_PER_PAGE",
    "LIVE_KIND",
    "LIVE_TOPIC",
    "STATES",
    "InvoiceRef",
    "PaymentRef",
    "PaymentsUnavailable",
    "ProductRef",
    "RateRef",
    "RateUnavailable",
    "Receipt",
    "WatchReport",
    "bip21_uri",
    "btc_text",
    "fiat_text",
    "gap_limit_status",
    "invoice_cancel",
    "invoice_check",
    "invoice_check_for_member",
    "invoice_create",
    "invoice_get",
    "invoice_receipt",
    "invoice_settle_manually",
    "invoice_topic_allowed",
    "invoices_of",
    "invoices_page",
    "invoices_watch",
    "product_deactivate",
    "product_register",
    "rate_set",
    "rate_usable_until",
    "rates_current",
    "rates_refresh",
    "required_confirmations",
    "watcher_status",
]

logger = logging.getLogger(__name__)

STATES = tuple(state.value for state in InvoiceState)
OPEN_STATES = (InvoiceState.NEW, InvoiceState.PROCESSING)


# The WebSocket topic of one invoice's checkout page (``invoice:<public id>``, its owner only) and the
# kind of frame sent on it whenever its state, what was paid or its confirmations change.
LIVE_TOPIC = "invoice"
LIVE_KIND = "invoice.changed"


class PaymentsUnavailable(ApplicationError):
    status = 503
    code = "payments_unavailable"


class RateUnavailable(ApplicationError):
    """No usable exchange rate for a fiat price: none yet, or older than its source's maximum age."""

    status = 409
    code = "rate_unavailable"


@dataclass(frozen=True)
class ProductRef:
    """``price_sats`` for a product priced in satoshis; else ``price_fiat_cents`` of ``fiat_currency``."""

    app_label: str
    code: str
    title: str
    price_sats: int | None
    active: bool
    price_fiat_cents: int | None = None
    fiat_currency: str = ""
    return_url: str = ""


@dataclass(frozen=True)
class InvoiceRef:
    public_id: str
    member_id: int
    product_app: str
    product_code: str
    product_ref: str
    title: str
    amount_sats: int
    paid_sats: int
    address: str
    network: str
    state: str
    overpaid: bool
    late: bool
    required_confirmations: int
    created_at: datetime.datetime
    expires_at: datetime.datetime
    settled_at: datetime.datetime | None
    fiat_currency: str = ""
    fiat_amount_cents: int | None = None
    # The price of one bitcoin in ``fiat_currency`` when the invoice was made, as an exact decimal string.
    fiat_rate: str | None = None
    confirmations: int = 0
    return_url: str = ""

    @property
    def due_sats(self) -> int:
        """What is left to pay (to the same address)."""
        return max(0, self.amount_sats - self.paid_sats)

    @property
    def amount_btc(self) -> str:
        return btc_text(self.amount_sats)

    @property
    def paid_btc(self) -> str:
        return btc_text(self.paid_sats)

    @property
    def due_btc(self) -> str:
        return btc_text(self.due_sats)

    @property
    def fiat_amount(self) -> str:
        """``"12.50 USD"``, or "" for an invoice priced in satoshis."""
        if self.fiat_amount_cents is None or not self.fiat_currency:
            return ""
        return fiat_text(self.fiat_amount_cents, self.fiat_currency)

    @property
    def fiat_rate_text(self) -> str:
        """The locked rate without trailing zeros ("67187.34")."""
        if self.fiat_rate is None:
            return ""
        text = self.fiat_rate
        return text.rstrip("0").rstrip(".") if "." in text else text

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def bip21_uri(self) -> str:
        return bip21_uri(
            address=self.address, amount_sats=self.due_sats or self.amount_sats, label=self.title
        )


def _new_public_id() -> str:
    """22 random URL-safe characters (128 bits) that never start with "-": the id is typed on command
    lines (``manage.py payment_pay ID``), where a leading dash reads as an option."""
    while True:
        candidate = secrets.token_urlsafe(16)
        if not candidate.startswith("-"):
            return candidate


def _btc(amount_sats: int) -> str:
    """Satoshis as a BTC decimal string, from integers only (no float ever rounds an amount)."""
    whole, fraction = divmod(amount_sats, 100_000_000)
    return f"{whole}.{fraction:08d}".rstrip("0").rstrip(".")


def btc_text(amount_sats: int) -> str:
    """``"0.0005 BTC"``: what pages show, written from integers."""
    return f"{_btc(amount_sats)} BTC"


def fiat_text(cents: int, currency: str) -> str:
    """``"12.50 USD"`` from 1250 hundredths, in integers."""
    whole, hundredths = divmod(cents, 100)
    return f"{whole}.{hundredths:02d} {currency}"


def bip21_uri(*, address: str, amount_sats: int, label: str = "") -> str:
    """A BIP21 payment link (``bitcoin:<address>?amount=<BTC>``) that wallets and QR codes read."""
    query = f"amount={_btc(amount_sats)}"
    if label:
        query += "&label=" + quote(label, safe="")
    return f"bitcoin:{address}?{query}"


def _ref(invoice: Invoice) -> InvoiceRef:
    return InvoiceRef(
        public_id=invoice.public_id,
        member_id=invoice.member_id,
        product_app=invoice.product_app,
        product_code=invoice.product_code,
        product_ref=invoice.product_ref,
        title=invoice.title,
        amount_sats=invoice.amount_sats,
        paid_sats=invoice.paid_sats,
        address=invoice.address,
        network=invoice.network,
        state=invoice.state,
        overpaid=invoice.overpaid,
        late=invoice.late,
        required_confirmations=invoice.required_confirmations,
        created_at=invoice.created_at,
        expires_at=invoice.expires_at,
        settled_at=invoice.settled_at,
        fiat_currency=invoice.fiat_currency,
        fiat_amount_cents=invoice.fiat_amount_cents,
        fiat_rate=str(invoice.fiat_rate) if invoice.fiat_rate is not None else None,
        confirmations=invoice.confirmations,
        return_url=invoice.return_url,
    )


# --- Products -----------------------------------------------------------------------------------------


def _whole_sats(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed(
            _("An amount must be a whole positive number of satoshis."), fields={field: ["invalid"]}
        )
    return value


def _fiat_price(cents: object, currency: object, field: str) -> tuple[int, str]:
    if not isinstance(currency, str) or currency.upper() not in settings.PAYMENT_FIAT_CURRENCIES:
        raise ValidationFailed(
            _("Prices may be in satoshis or in one of: %(currencies)s.")
            % {"currencies": ", ".join(settings.PAYMENT_FIAT_CURRENCIES)},
            fields={"currency": ["invalid"]},
        )
    if not isinstance(cents, int) or isinstance(cents, bool) or cents <= 0:
        raise ValidationFailed(
            _("A fiat price is a whole positive number of hundredths (cents)."), fields={field: ["invalid"]}
        )
    return cents, currency.upper()


def _return_url(value: object) -> str:
    """A path on this site ("/shop/"), never another site's address: the checkout page links to it."""
    if value in (None, ""):
        return ""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or len(value) > 200
        or any(character.isspace() for character in value)
    ):
        raise ValidationFailed(
            _("A return address is a path on this site, such as /shop/."), fields={"return_url": ["invalid"]}
        )
    return value


def _product_ref(product: Product) -> ProductRef:
    return ProductRef(
        app_label=product.app_label,
        code=product.code,
        title=product.title,
        price_sats=product.price_sats,
        active=product.active,
        price_fiat_cents=product.price_fiat_cents,
        fiat_currency=product.fiat_currency,
        return_url=product.return_url,
    )


def product_register(
    *,
    app_label: str,
    code: str,
    title: str,
    price_sats: int | None = None,
    active: bool = True,
    price_fiat_cents: int | None = None,
    currency: str = "",
    return_url: str = "",
) -> ProductRef:
    """Create or update a product another app sells (its price applies to invoices made from now on).

    The price is ``price_sats`` whole satoshis, or ``price_fiat_cents`` hundredths of ``currency`` (one
    of PAYMENT_FIAT_CURRENCIES), converted at each invoice's making. ``return_url`` is a path on this
    site the checkout page links to once the invoice is paid (where the member finds what they bought).
    """
    if (price_sats is None) == (price_fiat_cents is None):
        raise ValidationFailed(_("A product has one price: in satoshis or in a fiat currency."))
    fiat_cents: int | None = None
    fiat_currency = ""
    sats: int | None = None
    if price_sats is not None:
        sats = _whole_sats(price_sats, "price_sats")
    else:
        fiat_cents, fiat_currency = _fiat_price(price_fiat_cents, currency, "price_fiat_cents")
    if not app_label or not code:
        raise ValidationFailed(_("A product needs an app label and a code."))
    product, _created = Product.objects.update_or_create(
        app_label=app_label,
        code=code,
        defaults={
            "title": title[:200],
            "price_sats": sats,
            "price_fiat_cents": fiat_cents,
            "fiat_currency": fiat_currency,
            "return_url": _return_url(return_url),
            "active": active,
        },
    )
    return _product_ref(product)


def product_deactivate(*, app_label: str, code: str) -> None:
    Product.objects.filter(app_label=app_label, code=code).update(active=False)


# --- Exchange rates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateRef:
    currency: str
    # The price of one bitcoin, an exact decimal string ("67187.34000000").
    fiat_per_btc: str
    source: str
    updated_at: datetime.datetime
    usable_until: datetime.datetime

    @property
    def usable(self) -> bool:
        return timezone.now() <= self.usable_until


def _max_age(source: str) -> datetime.timedelta:
    seconds = (
        settings.PAYMENT_ADMIN_RATE_MAX_AGE_SECONDS
        if source == RateSource.ADMIN
        else settings.PAYMENT_RATE_MAX_AGE_SECONDS
    )
    return datetime.timedelta(seconds=seconds)


def rate_usable_until(*, source: str, updated_at: datetime.datetime) -> datetime.datetime:
    """When a rate of this source, stored at ``updated_at``, stops making invoices."""
    return updated_at + _max_age(source)


def _rate_ref(row: ExchangeRate) -> RateRef:
    return RateRef(
        currency=row.currency,
        fiat_per_btc=str(row.fiat_per_btc),
        source=row.source,
        updated_at=row.updated_at,
        usable_until=row.updated_at + _max_age(row.source),
    )


def _usable_rate(currency: str) -> Decimal:
    """The stored rate of ``currency`` if it is fresh enough; RateUnavailable (409) otherwise."""
    row = ExchangeRate.objects.filter(currency=currency).first()
    if row is None:
        raise RateUnavailable(
            _("Prices in %(currency)s cannot be paid yet: there is no exchange rate. Try again later.")
            % {"currency": currency}
        )
    if timezone.now() > row.updated_at + _max_age(row.source):
        raise RateUnavailable(
            _(
                "The exchange rate of %(currency)s is out of date, so the price in bitcoin cannot be "
                "worked out now. Try again in a few minutes."
            )
            % {"currency": currency}
        )
    return Decimal(row.fiat_per_btc)


def rates_current() -> list[RateRef]:
    """Every stored rate, by currency (one query)."""
    return [_rate_ref(row) for row in ExchangeRate.objects.order_by("currency")]


def rate_set(*, currency: str, fiat_per_btc: Decimal | str, staff_id: int | None) -> RateRef:
    """A rate staff set in the admin: usable for PAYMENT_ADMIN_RATE_MAX_AGE_SECONDS (a later fetch from
    PAYMENT_RATE_URL, when one is set, replaces it)."""
    code = currency.upper() if isinstance(currency, str) else ""
    if code not in settings.PAYMENT_FIAT_CURRENCIES:
        raise ValidationFailed(
            _("Prices may be in satoshis or in one of: %(currencies)s.")
            % {"currencies": ", ".join(settings.PAYMENT_FIAT_CURRENCIES)},
            fields={"currency": ["invalid"]},
        )
    try:
        rate = rates.parse_one(fiat_per_btc)
    except rates.RateError:
        raise ValidationFailed(
            _("A rate is the price of one bitcoin, a positive number."), fields={"fiat_per_btc": ["invalid"]}
        ) from None
    row, _created = ExchangeRate.objects.update_or_create(
        currency=code,
        defaults={
            "fiat_per_btc": rate,
            "source": RateSource.ADMIN,
            "updated_at": timezone.now(),
            "updated_by_id": staff_id,
        },
    )
    return _rate_ref(row)


def rates_refresh() -> list[RateRef]:
    """Read PAYMENT_RATE_URL and store the rates it gives (the beat task ``payment.fetch_rates``; never
    from a request). Raises rates.RateError when the API fails: the stored rates stay, and age."""
    if not settings.PAYMENT_RATE_URL:
        return []
    fetched = rates.fetch(settings.PAYMENT_RATE_URL, settings.PAYMENT_FIAT_CURRENCIES)
    now = timezone.now()
    with transaction.atomic():
        for currency, rate in sorted(fetched.items()):
            ExchangeRate.objects.update_or_create(
                currency=currency,
                defaults={
                    "fiat_per_btc": rate,
                    "source": RateSource.API,
                    "updated_at": now,
                    "updated_by": None,
                },
            )
    return [_rate_ref(row) for row in ExchangeRate.objects.filter(currency__in=fetched).order_by("currency")]


# --- Invoices -----------------------------------------------------------------------------------------


def required_confirmations(amount_sats: int) -> int:
    """Confirmations an invoice of this amount waits for (PAYMENT_CONFIRMATIONS, zero-conf below a floor)."""
    if amount_sats < settings.PAYMENT_ZERO_CONF_BELOW_SATS:
        return 0
    needed = 0
    for minimum, confirmations in settings.PAYMENT_CONFIRMATIONS:
        if amount_sats >= minimum:
            needed = confirmations
    return needed


@functools.lru_cache(maxsize=4)
def _account_key(xpub: str, network: str) -> bitcoin.HDKey:
    return bitcoin.account_key(xpub, network)


def _take_index() -> int:
    """The next derivation index, under the cursor's row lock (in the caller's transaction)."""
    AddressCursor.objects.get_or_create(id=1)
    cursor = AddressCursor.objects.select_for_update().get(id=1)
    index = cursor.next_index
    cursor.next_index = index + 1
    cursor.save(update_fields=["next_index"])
    return index


def _history(invoice: Invoice, kind: str, detail: str = "", *, actor_id: int | None = None) -> None:
    InvoiceEvent.objects.create(
        invoice=invoice,
        kind=kind,
        state=invoice.state,
        detail=detail[:500],
        actor_id=actor_id,
        created_at=timezone.now(),
    )


def invoice_create(
    *,
    member_id: int,
    product_app: str,
    product_code: str,
    product_ref: str = "",
    price_sats: int | None = None,
    price_fiat_cents: int | None = None,
    currency: str = "",
    return_url: str | None = None,
) -> InvoiceRef:
    """A new invoice for a registered product, at a fresh address that no other invoice ever had.

    At the product's price, or at ``price_sats`` / ``price_fiat_cents`` of ``currency`` when the selling
    app gives one (a renewal's price, say). A fiat price is converted at the stored rate of the moment
    (never fetched here), which the invoice keeps; without a usable rate it raises RateUnavailable.
    ``return_url`` (a path on this site) replaces the product's for this invoice.
    """
    if not settings.PAYMENT_XPUB:
        raise PaymentsUnavailable(_("Payments are not set up on this forum yet."))
    product = Product.objects.filter(app_label=product_app, code=product_code, active=True).first()
    if product is None:
        raise NotFound(_("This product is not for sale."))
    fiat_cents: int | None = None
    fiat_currency = ""
    fiat_rate: Decimal | None = None
    if price_sats is not None and price_fiat_cents is not None:
        raise ValidationFailed(_("A product has one price: in satoshis or in a fiat currency."))
    if price_sats is not None:
        amount = _whole_sats(price_sats, "price_sats")
    elif price_fiat_cents is not None:
        fiat_cents, fiat_currency = _fiat_price(price_fiat_cents, currency, "price_fiat_cents")
    elif product.price_sats is not None:
        amount = product.price_sats
    else:
        assert product.price_fiat_cents is not None
        fiat_cents, fiat_currency = product.price_fiat_cents, product.fiat_currency
    if fiat_cents is not None:
        fiat_rate = _usable_rate(fiat_currency)
        amount = rates.sats_for(fiat_cents, fiat_rate)
    back = product.return_url if return_url is None else _return_url(return_url)
    key = _account_key(settings.PAYMENT_XPUB, settings.PAYMENT_NETWORK)
    now = timezone.now()
    with transaction.atomic():
        index = _take_index()
        invoice = Invoice.objects.create(
            # 128 random bits: an invoice's id is its only name in URLs, so it must not be guessable.
            public_id=_new_public_id(),
            member_id=member_id,
            product_app=product.app_label,
            product_code=product.code,
            product_ref=product_ref[:100],
            title=product.title,
            amount_sats=amount,
            fiat_currency=fiat_currency,
            fiat_amount_cents=fiat_cents,
            fiat_rate=fiat_rate,
            return_url=back,
            address=bitcoin.address_at(key, index),
            derivation_index=index,
            network=settings.PAYMENT_NETWORK,
            required_confirmations=required_confirmations(amount),
            created_at=now,
            expires_at=now + datetime.timedelta(minutes=settings.PAYMENT_INVOICE_EXPIRY_MINUTES),
        )
        locked_at = f" ({fiat_cents}/100 {fiat_currency} at {fiat_rate} a bitcoin)" if fiat_rate else ""
        _history(
            invoice,
            "created",
            f"{invoice.amount_sats} sats to {invoice.address} (index {index}){locked_at}",
        )
        publish(
            InvoiceCreated(
                invoice_id=invoice.public_id,
                member_id=member_id,
                product_app=invoice.product_app,
                product_code=invoice.product_code,
                product_ref=invoice.product_ref,
                amount_sats=invoice.amount_sats,
                address=invoice.address,
                expires_at=invoice.expires_at,
                fiat_currency=fiat_currency,
                fiat_amount_cents=fiat_cents,
                fiat_rate=str(fiat_rate) if fiat_rate is not None else "",
            )
        )
    gap = gap_limit_status()
    if gap["exceeded"]:
        logger.warning(
            "unpaid addresses run past the gap limit: %s ahead of the last paid one (limit %s)",
            gap["unpaid_ahead"],
            gap["gap_limit"],
            extra=gap,
        )
    return _ref(invoice)


def invoice_get(*, public_id: str, viewer_id: int | None) -> InvoiceRef:
    """The invoice, for its owner only: anyone else gets the same 404 as for an id that does not exist."""
    invoice = Invoice.objects.filter(public_id=public_id).first()
    if invoice is None or viewer_id is None or invoice.member_id != viewer_id:
        raise NotFound(_("No such invoice."))
    return _ref(invoice)


def invoices_of(*, member_id: int, limit: int = 50) -> list[InvoiceRef]:
    return [
        _ref(row)
        for row in Invoice.objects.filter(member_id=member_id).order_by("-created_at", "-id")[:limit]
    ]


INVOICES_PER_PAGE = 20


def invoices_page(*, member_id: int, page: int = 1, per_page: int = INVOICES_PER_PAGE) -> Page[InvoiceRef]:
    """A page of the member's invoices, newest first: two queries (the count and the rows)."""
    rows = Invoice.objects.filter(member_id=member_id).order_by("-created_at", "-id")
    total = rows.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    items = tuple(_ref(row) for row in rows[start : start + per_page])
    return Page(items=items, number=number, per_page=per_page, total=total)


def invoice_topic_allowed(*, user_id: int, public_id: str) -> bool:
    """May this member follow ``invoice:<public_id>``? Its owner only (False also when there is none)."""
    return Invoice.objects.filter(public_id=public_id, member_id=user_id).exists()


@dataclass(frozen=True)
class PaymentRef:
    txid: str
    vout: int
    amount_sats: int
    block_height: int | None
    seen_at: datetime.datetime

    @property
    def amount_btc(self) -> str:
        return btc_text(self.amount_sats)


@dataclass(frozen=True)
class Receipt:
    invoice: InvoiceRef
    payments: tuple[PaymentRef, ...]


def invoice_receipt(*, public_id: str, viewer_id: int | None) -> Receipt:
    """A settled invoice of the viewer with the payments that paid it (404 for anything else): two queries."""
    invoice = invoice_get(public_id=public_id, viewer_id=viewer_id)
    if invoice.state != InvoiceState.SETTLED:
        raise NotFound(_("This invoice is not paid yet, so it has no receipt."))
    payments = tuple(
        PaymentRef(p.txid, p.vout, p.amount_sats, p.block_height, p.seen_at)
        for p in Payment.objects.filter(invoice__public_id=public_id, gone_at__isnull=True).order_by(
            "seen_at", "id"
        )
    )
    return Receipt(invoice=invoice, payments=payments)


def invoice_check_for_member(*, public_id: str, viewer_id: int) -> InvoiceRef:
    """The check a checkout page asks for: the owner only (404 otherwise), PAYMENT_CHECKS_PER_MINUTE a
    minute per member (429 past it), and the chain API's failure answered as 503, not as an error."""
    invoice_get(public_id=public_id, viewer_id=viewer_id)
    rate_limit_hit(
        name="payment-check", subject=str(viewer_id), limit=settings.PAYMENT_CHECKS_PER_MINUTE, window=60
    )
    try:
        return invoice_check(public_id=public_id)
    except EsploraError as error:
        logger.warning("an on-demand invoice check failed: %s", error)
        raise PaymentsUnavailable(
            _("The payment network cannot be read right now. Try again shortly.")
        ) from error


def gap_limit_status() -> dict[str, int | bool]:
    """Unpaid invoices' addresses beyond the last paid one, against the wallet's gap limit."""
    last_paid = Invoice.objects.filter(paid_sats__gt=0).aggregate(last=Max("derivation_index"))["last"]
    ahead = Invoice.objects.filter(paid_sats=0)
    if last_paid is not None:
        ahead = ahead.filter(derivation_index__gt=last_paid)
    unpaid_ahead = ahead.count()
    return {
        "unpaid_ahead": unpaid_ahead,
        "gap_limit": settings.PAYMENT_GAP_LIMIT,
        "exceeded": unpaid_ahead > settings.PAYMENT_GAP_LIMIT,
    }


# --- The lifecycle ------------------------------------------------------------------------------------


def _confirmations(payment: Payment, tip_height: int) -> int:
    if payment.block_height is None:
        return 0
    return max(0, tip_height - payment.block_height + 1)


def _justified_state(
    invoice: Invoice, payments: list[Payment], tip_height: int, now: datetime.datetime
) -> str:
    """What the payments justify now, for an invoice that is not settled or invalid."""
    grace_end = invoice.expires_at + datetime.timedelta(minutes=settings.PAYMENT_LATE_GRACE_MINUTES)
    live = [payment for payment in payments if payment.gone_at is None]
    # Payments first seen after the grace never settle by themselves: staff decide.
    counted = [payment for payment in live if payment.seen_at <= grace_end]
    if sum(payment.amount_sats for payment in counted) >= invoice.amount_sats:
        needed = invoice.required_confirmations
        confirmed = sum(p.amount_sats for p in counted if _confirmations(p, tip_height) >= needed)
        return InvoiceState.SETTLED if confirmed >= invoice.amount_sats else InvoiceState.PROCESSING
    if any(payment.gone_at is not None for payment in payments):
        return InvoiceState.INVALID
    if now > invoice.expires_at:
        return InvoiceState.EXPIRED
    return InvoiceState.NEW


def _apply(invoice: Invoice, outputs: list[ChainOutput], tip_height: int) -> None:
    """Record what the chain shows for a locked invoice, move its state, publish what changed."""
    now = timezone.now()
    payments = {(p.txid, p.vout): p for p in invoice.payments.all()}
    shown = {(output.txid, output.vout): output for output in outputs}
    for key, output in shown.items():
        payment = payments.get(key)
        if payment is None:
            payments[key] = Payment.objects.create(
                invoice=invoice,
                txid=output.txid,
                vout=output.vout,
                amount_sats=output.amount_sats,
                block_height=output.block_height,
                seen_at=now,
            )
            _history(invoice, "payment_seen", f"{output.amount_sats} sats in {output.txid}:{output.vout}")
        elif payment.block_height != output.block_height or payment.gone_at is not None:
            if payment.gone_at is not None:
                _history(invoice, "payment_back", f"{output.txid}:{output.vout}")
            elif payment.block_height is not None and output.block_height != payment.block_height:
                _history(invoice, "payment_reorganised", f"{output.txid} left block {payment.block_height}")
            payment.block_height = output.block_height
            payment.gone_at = None
            payment.save(update_fields=["block_height", "gone_at"])
    for key, payment in payments.items():
        if key not in shown and payment.gone_at is None:
            payment.gone_at = now
            payment.save(update_fields=["gone_at"])
            _history(
                invoice, "payment_gone", f"{payment.txid}:{payment.vout} is no longer in the chain or mempool"
            )
    rows = list(payments.values())
    seen_before = (invoice.state, invoice.paid_sats, invoice.confirmations)
    invoice.paid_sats = sum(p.amount_sats for p in rows if p.gone_at is None)
    invoice.confirmations = min((_confirmations(p, tip_height) for p in rows if p.gone_at is None), default=0)
    invoice.checked_at = now
    before = invoice.state
    if before not in (InvoiceState.SETTLED, InvoiceState.INVALID):
        invoice.state = _justified_state(invoice, rows, tip_height, now)
    flags: list[str] = []
    if invoice.paid_sats > invoice.amount_sats and not invoice.overpaid:
        invoice.overpaid = True
        flags.append("overpaid")
    in_time = sum(p.amount_sats for p in rows if p.gone_at is None and p.seen_at <= invoice.expires_at)
    if in_time < invoice.amount_sats <= invoice.paid_sats and not invoice.late:
        invoice.late = True
        flags.append("late")
    if invoice.state == InvoiceState.SETTLED and before != InvoiceState.SETTLED:
        invoice.settled_at = now
    invoice.save()
    if invoice.state != before:
        _history(
            invoice, invoice.state, f"{invoice.paid_sats} of {invoice.amount_sats} sats, tip {tip_height}"
        )
        _publish_state(invoice)
    if (invoice.state, invoice.paid_sats, invoice.confirmations) != seen_before:
        _send_live(invoice)
    for flag in flags:
        _history(invoice, f"flagged_{flag}", f"{invoice.paid_sats} of {invoice.amount_sats} sats")
        publish(
            InvoiceFlagged(
                invoice_id=invoice.public_id,
                member_id=invoice.member_id,
                flag=flag,
                amount_sats=invoice.amount_sats,
                paid_sats=invoice.paid_sats,
            )
        )


def _send_live(invoice: Invoice) -> None:
    """Tell the invoice's open checkout page (after the commit) that it changed; the page then fetches
    its live part again, rendered for its owner."""
    send_to_topic(
        f"{LIVE_TOPIC}:{invoice.public_id}",
        LIVE_KIND,
        {
            "invoice_id": invoice.public_id,
            "state": invoice.state,
            "paid_sats": invoice.paid_sats,
            "due_sats": max(0, invoice.amount_sats - invoice.paid_sats),
            "confirmations": invoice.confirmations,
            "required_confirmations": invoice.required_confirmations,
        },
        on_commit=True,
    )


def _publish_state(invoice: Invoice, *, manual: bool = False) -> None:
    public_id, member_id, amount, paid = (
        invoice.public_id,
        invoice.member_id,
        invoice.amount_sats,
        invoice.paid_sats,
    )
    if invoice.state == InvoiceState.SETTLED:
        assert invoice.settled_at is not None
        publish(
            InvoiceSettled(
                invoice_id=public_id,
                member_id=member_id,
                product_app=invoice.product_app,
                product_code=invoice.product_code,
                product_ref=invoice.product_ref,
                amount_sats=amount,
                paid_sats=paid,
                settled_at=invoice.settled_at,
                manual=manual,
            )
        )
    elif invoice.state == InvoiceState.EXPIRED:
        publish(InvoiceExpired(invoice_id=public_id, member_id=member_id, amount_sats=amount, paid_sats=paid))
    elif invoice.state == InvoiceState.INVALID:
        publish(InvoiceInvalid(invoice_id=public_id, member_id=member_id, amount_sats=amount, paid_sats=paid))


def invoice_check(*, public_id: str, client: EsploraClient | None = None) -> InvoiceRef:
    """Read the chain for one invoice now and move it on (raises EsploraError when the API fails).

    The HTTP reads happen before the transaction; the invoice row is then locked, so that two workers
    checking at once apply one after the other and the second finds the state already moved: an
    invoice is settled, and ``payment.invoice_settled`` published, once.
    """
    invoice = Invoice.objects.filter(public_id=public_id).first()
    if invoice is None:
        raise NotFound(_("No such invoice."))
    client = client or EsploraClient()
    tip_height = client.tip_height()
    outputs = client.outputs_to(invoice.address)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        _apply(locked, outputs, tip_height)
    return _ref(locked)


def invoice_settle_manually(*, public_id: str, staff_id: int, reason: str) -> InvoiceRef:
    """Staff settle an invoice the rules left (late after the grace, invalid, underpaid), with a reason."""
    if not reason.strip():
        raise ValidationFailed(_("Say why."), fields={"reason": ["required"]})
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(public_id=public_id).first()
        if invoice is None:
            raise NotFound(_("No such invoice."))
        if invoice.state == InvoiceState.SETTLED:
            raise ValidationFailed(_("This invoice is already settled."))
        invoice.state = InvoiceState.SETTLED
        invoice.settled_at = timezone.now()
        invoice.save(update_fields=["state", "settled_at"])
        _history(invoice, "settled_manually", reason, actor_id=staff_id)
        _publish_state(invoice, manual=True)
        _send_live(invoice)
    return _ref(invoice)


def invoice_cancel(*, public_id: str, staff_id: int, reason: str) -> InvoiceRef:
    """Staff close an open invoice as expired, with a reason (a settled one cannot be cancelled)."""
    if not reason.strip():
        raise ValidationFailed(_("Say why."), fields={"reason": ["required"]})
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(public_id=public_id).first()
        if invoice is None:
            raise NotFound(_("No such invoice."))
        if invoice.state == InvoiceState.SETTLED:
            raise ValidationFailed(_("A settled invoice cannot be cancelled."))
        invoice.state = InvoiceState.EXPIRED
        invoice.save(update_fields=["state"])
        _history(invoice, "cancelled", reason, actor_id=staff_id)
        _publish_state(invoice)
        _send_live(invoice)
    return _ref(invoice)


# --- The watcher --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchReport:
    checked: int
    skipped_backoff: bool
    error: str = ""


def _watched() -> Q:
    grace = datetime.timedelta(minutes=settings.PAYMENT_LATE_GRACE_MINUTES)
    now = timezone.now()
    return Q(state__in=OPEN_STATES) | Q(state=InvoiceState.EXPIRED, expires_at__gte=now - grace)


def invoices_watch(*, client: EsploraClient | None = None) -> WatchReport:
    """Check every open invoice (and expired ones still within the grace); back off while the API fails."""
    now = timezone.now()
    state, _created = WatcherState.objects.get_or_create(id=1)
    if state.next_attempt_at is not None and now < state.next_attempt_at:
        return WatchReport(checked=0, skipped_backoff=True, error=state.last_error)
    checked = 0
    try:
        client = client or EsploraClient()
        tip_height = client.tip_height()
        for public_id in (
            Invoice.objects.filter(_watched()).order_by("created_at").values_list("public_id", flat=True)
        ):
            invoice_check(public_id=public_id, client=client)
            checked += 1
    except EsploraError as error:
        failures = state.failures + 1
        delay = min(
            settings.PAYMENT_BACKOFF_SECONDS * 2 ** (failures - 1), settings.PAYMENT_BACKOFF_MAX_SECONDS
        )
        WatcherState.objects.filter(id=1).update(
            failures=failures,
            last_failure_at=now,
            last_error=str(error)[:500],
            next_attempt_at=now + datetime.timedelta(seconds=delay),
        )
        logger.warning("the chain API failed (%s in a row), next try in %ss: %s", failures, delay, error)
        return WatchReport(checked=checked, skipped_backoff=False, error=str(error))
    WatcherState.objects.filter(id=1).update(
        failures=0, last_success_at=now, next_attempt_at=None, last_error="", tip_height=tip_height
    )
    return WatchReport(checked=checked, skipped_backoff=False)


def watcher_status() -> dict[str, object]:
    """For /health/ready and /metrics: how far behind the watcher is and whether it is failing."""
    state = WatcherState.objects.filter(id=1).first()
    now = timezone.now()
    open_invoices = Invoice.objects.filter(_watched()).count()
    last = state.last_success_at if state else None
    lag = (now - last).total_seconds() if last else None
    behind = open_invoices > 0 and (lag is None or lag > settings.PAYMENT_WATCH_LAG_WARNING_SECONDS)
    return {
        "open_invoices": open_invoices,
        "lag_seconds": round(lag, 1) if lag is not None else None,
        "behind": behind,
        "failures": state.failures if state else 0,
        "last_error": state.last_error if state else "",
        "tip_height": state.tip_height if state else None,
    }
