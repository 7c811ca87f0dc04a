"""manage.py seed_payment: a demo member's invoices, on top of ``seed_status`` (whose plans are products).

A newcomer who runs ``make run`` and signs in as ``jonas`` finds "My invoices" filled: one paid (with
its receipt), one partly paid, one expired unpaid, and one priced in US dollars at a demo exchange rate
(set as a staff rate when no usable one is stored). The payments are real signed transactions of the
development wallet on the development chain, read back by the watcher's own ``invoice_check`` (through
the chain's functions, as the servers are not up yet; the watcher reads it over HTTP afterwards).
Development only: it needs the development chain. Idempotent: when jonas has invoices, it does nothing.
The launcher calls it after ``seed_status`` (the kernel names commands, it imports no app).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.payment import chain, services
from apps.payment.esplora import ChainOutput, EsploraClient
from apps.payment.models import Invoice, Product

DEMO_MEMBER = "jonas"
DEMO_USD_PER_BTC = "100000"


class DevChainReader(EsploraClient):
    """The Esplora client's parsing over the development chain's functions, without HTTP."""

    def __init__(self) -> None:
        self.base_url = "dev-chain"

    def tip_height(self) -> int:
        return chain.tip_height()

    def outputs_to(self, address: str) -> list[ChainOutput]:
        found: list[ChainOutput] = []
        for transaction in chain.transactions_to(address):
            found.extend(self._outputs_of(transaction, address))
        return found


class Command(BaseCommand):
    help = "Create a demo member's invoices, paid on the development chain (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-production", action="store_true", help="Seed even in production.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        if not settings.PAYMENT_DEV_CHAIN or not settings.PAYMENT_XPUB:
            self.stdout.write("seed_payment: no development chain; no demo invoices")
            return
        member_id = get_user_model().objects.filter(username=DEMO_MEMBER).values_list("pk", flat=True).first()
        products = list(
            Product.objects.filter(active=True, price_sats__isnull=False).order_by("price_sats", "id")[:2]
        )
        if member_id is None or not products:
            self.stdout.write(f"seed_payment: no {DEMO_MEMBER} or nothing on sale; no demo invoices")
            return
        if Invoice.objects.filter(member_id=member_id).exists():
            self.stdout.write("seed_payment: the demo invoices are there")
            return
        reader = DevChainReader()
        cheap, dear = products[0], products[-1]

        def invoice(product: Product, **price: Any) -> services.InvoiceRef:
            return services.invoice_create(
                member_id=int(member_id),
                product_app=product.app_label,
                product_code=product.code,
                **price,
            )

        # Expired unpaid: made, then its time run out (the oldest of the list).
        expired = invoice(cheap)
        Invoice.objects.filter(public_id=expired.public_id).update(
            created_at=timezone.now() - datetime.timedelta(days=3),
            expires_at=timezone.now() - datetime.timedelta(days=3) + datetime.timedelta(minutes=30),
        )
        services.invoice_check(public_id=expired.public_id, client=reader)
        # Paid in full and confirmed: settled once, and the selling app fulfils it.
        paid = invoice(cheap)
        chain.pay(address=paid.address, amount_sats=paid.amount_sats)
        chain.mine(max(1, paid.required_confirmations))
        services.invoice_check(public_id=paid.public_id, client=reader)
        # Partly paid: the page shows what is left, to the same address.
        partial = invoice(dear)
        chain.pay(address=partial.address, amount_sats=max(1, partial.amount_sats // 3))
        services.invoice_check(public_id=partial.public_id, client=reader)
        # Priced in US dollars, converted at the stored rate (a demo staff rate when none is usable).
        if "USD" in settings.PAYMENT_FIAT_CURRENCIES:
            if not any(rate.currency == "USD" and rate.usable for rate in services.rates_current()):
                services.rate_set(currency="USD", fiat_per_btc=DEMO_USD_PER_BTC, staff_id=None)
            invoice(cheap, price_fiat_cents=500, currency="USD")
        self.stdout.write(f"seed_payment: {DEMO_MEMBER}'s demo invoices made")
