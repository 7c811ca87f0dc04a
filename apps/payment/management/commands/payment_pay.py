"""``manage.py payment_pay INVOICE [--amount SATS] [--confirm N] [--reorg N [--drop]]``: pay an invoice
from the development wallet on the development chain (development and tests only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.payment import chain
from apps.payment.models import Invoice


class Command(BaseCommand):
    help = "Pay an invoice with a real signed transaction on the development regtest chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "invoice", nargs="?", help="the invoice's public id (none: only --confirm/--reorg)"
        )
        parser.add_argument("--amount", type=int, help="satoshis to pay (default: what is left to pay)")
        parser.add_argument("--confirm", type=int, default=0, help="blocks to mine afterwards")
        parser.add_argument("--reorg", type=int, default=0, help="first replace the last N blocks")
        parser.add_argument("--drop", action="store_true", help="with --reorg: their transactions vanish")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PAYMENT_DEV_CHAIN:
            raise CommandError("the development chain is refused outside development and tests")
        if options["reorg"]:
            chain.reorganise(options["reorg"], drop=options["drop"])
            self.stdout.write(f"reorganised the last {options['reorg']} blocks")
        if options["invoice"]:
            invoice = Invoice.objects.filter(public_id=options["invoice"]).first()
            if invoice is None:
                raise CommandError(f"no invoice {options['invoice']}")
            amount = (
                options["amount"]
                if options["amount"] is not None
                else invoice.amount_sats - invoice.paid_sats
            )
            if amount <= 0:
                raise CommandError("nothing left to pay: give --amount")
            paid = chain.pay(address=invoice.address, amount_sats=amount)
            self.stdout.write(f"paid {paid.amount_sats} sats to {invoice.address} in {paid.txid}")
        if options["confirm"]:
            height = chain.mine(options["confirm"])
            self.stdout.write(f"mined {options['confirm']} blocks, tip {height}")
