"""The payment app's tables: products other apps sell, invoices, the payments seen for them, their
history, the watcher's state, and the development regtest chain (blocks, transactions, outputs).

Amounts are whole satoshis (``BigIntegerField``) everywhere; products belong to other apps and are
named by (app label, code), never by a foreign key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Product(models.Model):
    """Something another app sells, registered through ``services.product_register``.

    Priced either in satoshis (``price_sats``) or in a fiat currency (``price_fiat_cents`` hundredths of
    ``fiat_currency``), converted at the rate of the moment each invoice is made.
    """

    app_label = models.CharField(max_length=50)
    code = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    price_sats = models.BigIntegerField(null=True, blank=True)
    price_fiat_cents = models.BigIntegerField(null=True, blank=True)
    fiat_currency = models.CharField(max_length=3, blank=True, default="")
    # Where the checkout page sends the member once paid (a path on this site), "" for none.
    return_url = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app_label", "code"], name="payment_product_unique_code"),
            models.CheckConstraint(
                condition=(
                    models.Q(price_sats__gt=0, price_fiat_cents__isnull=True, fiat_currency="")
                    | (
                        models.Q(price_sats__isnull=True, price_fiat_cents__gt=0)
                        & ~models.Q(fiat_currency="")
                    )
                ),
                name="payment_product_one_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.app_label}:{self.code}"


class RateSource(models.TextChoices):
    API = "api", "rate API"
    ADMIN = "admin", "set by staff"


class ExchangeRate(models.Model):
    """The price of one bitcoin in a fiat currency, exact (a decimal, never a float): fetched by the
    ``payment.fetch_rates`` task from PAYMENT_RATE_URL or set by staff in the admin. Invoices lock the
    rate of the moment they are made; a rate older than its source's maximum age makes no invoice."""

    currency = models.CharField(max_length=3, unique=True)
    fiat_per_btc = models.DecimalField(max_digits=24, decimal_places=8)
    source = models.CharField(max_length=5, choices=RateSource.choices)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(fiat_per_btc__gt=0), name="payment_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 BTC = {self.fiat_per_btc} {self.currency}"


class InvoiceState(models.TextChoices):
    NEW = "new", "new"
    PROCESSING = "processing", "processing"
    SETTLED = "settled", "settled"
    EXPIRED = "expired", "expired"
    INVALID = "invalid", "invalid"


class Invoice(models.Model):
    public_id = models.CharField(max_length=32, unique=True)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    product_app = models.CharField(max_length=50)
    product_code = models.CharField(max_length=100)
    # What the selling app wants back when fulfilling (a plan id, a frame id), opaque here.
    product_ref = models.CharField(max_length=100, blank=True, default="")
    title = models.CharField(max_length=200)
    amount_sats = models.BigIntegerField()
    fiat_currency = models.CharField(max_length=3, blank=True, default="")
    # In hundredths of the currency, and the price of one bitcoin in it, both locked at creation:
    # amount_sats = ceil(fiat_amount_cents * 10**6 / fiat_rate), in integers (services._sats_for).
    fiat_amount_cents = models.BigIntegerField(null=True, blank=True)
    fiat_rate = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    # Where the checkout page sends the member once paid, copied from the product (or given).
    return_url = models.CharField(max_length=200, blank=True, default="")
    address = models.CharField(max_length=100, unique=True)
    derivation_index = models.PositiveIntegerField(unique=True)
    network = models.CharField(max_length=10)
    required_confirmations = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=InvoiceState.choices, default=InvoiceState.NEW)
    paid_sats = models.BigIntegerField(default=0)
    # The fewest confirmations among the payments counted, as the watcher last saw (for "n of N").
    confirmations = models.PositiveIntegerField(default=0)
    overpaid = models.BooleanField(default=False)
    late = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "expires_at"]),
            models.Index(fields=["member", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_sats__gt=0), name="payment_invoice_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class Payment(models.Model):
    """An output paying an invoice's address, as the chain API last showed it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    txid = models.CharField(max_length=64)
    vout = models.PositiveIntegerField()
    amount_sats = models.BigIntegerField()
    block_height = models.PositiveIntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()
    # Set when the API no longer shows the transaction (replaced, or reorganised out and dropped).
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "txid", "vout"], name="payment_payment_unique_output")
        ]

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout}"


class InvoiceEvent(models.Model):
    """An invoice's history: what happened, when, and why (the watcher's or a staff member's reason)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=10, choices=InvoiceState.choices)
    detail = models.CharField(max_length=500, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.state})"


class WatcherState(models.Model):
    """One row: how the chain watcher is doing, for its back-off, /health/ready and /metrics."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    tip_height = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return "chain watcher"


# --- The development regtest chain (PAYMENT_DEV_CHAIN only) -----------------------------------------


class ChainBlock(models.Model):
    height = models.PositiveIntegerField(unique=True)
    block_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"block {self.height}"


class ChainTransaction(models.Model):
    txid = models.CharField(max_length=64, unique=True)
    raw_hex = models.TextField()
    # Null while in the mempool; a reorganisation puts a block's transactions back there.
    block = models.ForeignKey(ChainBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveIntegerField(default=0)
    fee_sats = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.txid


class ChainOutput(models.Model):
    transaction = models.ForeignKey(ChainTransaction, on_delete=models.CASCADE, related_name="outputs")
    vout = models.PositiveIntegerField()
    address = models.CharField(max_length=100, db_index=True)
    amount_sats = models.BigIntegerField()
    spent_by = models.ForeignKey(
        ChainTransaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="spends"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transaction", "vout"], name="payment_chainoutput_unique")
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}:{self.vout}"


class AddressCursor(models.Model):
    """One row: the next derivation index, taken under its row lock so that no index is used twice."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_index = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"next index {self.next_index}"
