"""Published interface of the payment app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

A selling app registers what it sells with ``product_register`` and fulfils it from the
``payment.invoice_settled`` event (``apps.payment.events.InvoiceSettled``), which names the product
and the ``product_ref`` it gave ``invoice_create``; the event is published exactly once per invoice.
Amounts are whole satoshis (``int``) everywhere.
"""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.payment import bitcoin
from apps.payment.esplora import ChainOutput, EsploraClient, EsploraError
from apps.payment.events import InvoiceCreated, InvoiceExpired, InvoiceFlagged, InvoiceInvalid, InvoiceSettled
from apps.payment.models import (
    AddressCursor,
    Invoice,
    InvoiceEvent,
    InvoiceState,
    Payment,
    Product,
    WatcherState,
)
from forum.bus import publish
from forum.errors import ApplicationError, NotFound, ValidationFailed
from forum.paging import Page, page_in_range
from forum.ratelimit import rate_limit_hit

__all__ = [
    "INVOICES_PER_PAGE",
    "STATES",
    "InvoiceRef",
    "PaymentsUnavailable",
    "ProductRef",
    "WatchReport",
    "bip21_uri",
    "gap_limit_status",
    "invoice_cancel",
    "invoice_check",
    "invoice_check_for_member",
    "invoice_create",
    "invoice_get",
    "invoice_settle_manually",
    "invoices_of",
    "invoices_page",
    "invoices_watch",
    "product_deactivate",
    "product_register",
    "required_confirmations",
    "watcher_status",
]

logger = logging.getLogger(__name__)

STATES = tuple(state.value for state in InvoiceState)
OPEN_STATES = (InvoiceState.NEW, InvoiceState.PROCESSING)


class PaymentsUnavailable(ApplicationError):
    status = 503
    code = "payments_unavailable"


@dataclass(frozen=True)
class ProductRef:
    app_label: str
    code: str
    title: str
    price_sats: int
    active: bool


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

    @property
    def due_sats(self) -> int:
        """What is left to pay (to the same address)."""
        return max(0, self.amount_sats - self.paid_sats)

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
    )


# --- Products -----------------------------------------------------------------------------------------


def _whole_sats(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed(
            _("An amount must be a whole positive number of satoshis."), fields={field: ["invalid"]}
        )
    return value


def product_register(
    *, app_label: str, code: str, title: str, price_sats: int, active: bool = True
) -> ProductRef:
    """Create or update a product another app sells (its price applies to invoices made from now on)."""
    price = _whole_sats(price_sats, "price_sats")
    if not app_label or not code:
        raise ValidationFailed(_("A product needs an app label and a code."))
    product, _created = Product.objects.update_or_create(
        app_label=app_label, code=code, defaults={"title": title[:200], "price_sats": price, "active": active}
    )
    return ProductRef(product.app_label, product.code, product.title, product.price_sats, product.active)


def product_deactivate(*, app_label: str, code: str) -> None:
    Product.objects.filter(app_label=app_label, code=code).update(active=False)


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
    *, member_id: int, product_app: str, product_code: str, product_ref: str = ""
) -> InvoiceRef:
    """A new invoice for a registered product, at a fresh address that no other invoice ever had."""
    if not settings.PAYMENT_XPUB:
        raise PaymentsUnavailable(_("Payments are not set up on this forum yet."))
    product = Product.objects.filter(app_label=product_app, code=product_code, active=True).first()
    if product is None:
        raise NotFound(_("This product is not for sale."))
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
            amount_sats=product.price_sats,
            address=bitcoin.address_at(key, index),
            derivation_index=index,
            network=settings.PAYMENT_NETWORK,
            required_confirmations=required_confirmations(product.price_sats),
            created_at=now,
            expires_at=now + datetime.timedelta(minutes=settings.PAYMENT_INVOICE_EXPIRY_MINUTES),
        )
        _history(invoice, "created", f"{invoice.amount_sats} sats to {invoice.address} (index {index})")
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
    invoice.paid_sats = sum(p.amount_sats for p in rows if p.gone_at is None)
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
