"""The development regtest chain: blocks, a mempool and real signed transactions of the development
wallet, kept in the database and served as an Esplora API (``esplora_views``). Development and tests
only: every entry point refuses unless ``PAYMENT_DEV_CHAIN`` (never on in production).

Simplifications, on purpose: block rewards are spendable at once (no 100-block maturity), blocks
carry no proof of work, and ``reorganise`` replaces the last blocks with empty ones, putting their
transactions back in the mempool (as a node does) or, with ``drop``, dropping them as if a
conflicting transaction had won.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.payment import bitcoin
from apps.payment.models import ChainBlock, ChainOutput, ChainTransaction

__all__ = ["FEE_SATS", "REWARD_SATS", "mine", "pay", "reorganise", "tip_height"]

REWARD_SATS = 50 * 100_000_000
FEE_SATS = 1_000


def _require() -> None:
    if not settings.PAYMENT_DEV_CHAIN:
        raise ImproperlyConfigured("the development chain is refused outside development and tests")


def tip_height() -> int:
    _require()
    return int(ChainBlock.objects.aggregate(top=Max("height"))["top"] or 0)


def _store(
    spend: bitcoin.DevSpend, *, block: ChainBlock | None, position: int, fee_sats: int
) -> ChainTransaction:
    row = ChainTransaction.objects.create(
        txid=spend.txid,
        raw_hex=spend.raw_hex,
        block=block,
        position=position,
        fee_sats=fee_sats,
        created_at=timezone.now(),
    )
    ChainOutput.objects.bulk_create(
        ChainOutput(transaction=row, vout=vout, address=address, amount_sats=amount)
        for vout, address, amount in spend.outputs
    )
    return row


def mine(blocks: int = 1) -> int:
    """Mine ``blocks`` blocks, the first taking the whole mempool; each pays its reward to the dev wallet."""
    _require()
    with transaction.atomic():
        ChainBlock.objects.select_for_update().order_by("-height").first()
        for _number in range(blocks):
            height = tip_height() + 1
            digest = hashlib.sha256(
                f"forum-regtest-{height}-{timezone.now().isoformat()}".encode()
            ).hexdigest()
            block = ChainBlock.objects.create(height=height, block_hash=digest, created_at=timezone.now())
            reward = bitcoin.coinbase(height=height, amount_sats=REWARD_SATS)
            _store(reward, block=block, position=0, fee_sats=0)
            mempool = ChainTransaction.objects.filter(block__isnull=True).order_by("created_at", "id")
            for position, row in enumerate(mempool, start=1):
                row.block = block
                row.position = position
                row.save(update_fields=["block", "position"])
        return tip_height()


@dataclass(frozen=True)
class Paid:
    txid: str
    amount_sats: int


def pay(*, address: str, amount_sats: int) -> Paid:
    """A real transaction of the development wallet paying ``amount_sats`` to ``address``, in the mempool."""
    _require()
    if amount_sats <= 0:
        raise ValueError("the amount must be a positive number of satoshis")
    with transaction.atomic():
        wallet = bitcoin.dev_wallet_address()
        unspent = list(
            ChainOutput.objects.select_for_update()
            .filter(address=wallet, spent_by__isnull=True)
            .order_by("-amount_sats")
        )
        coins: list[ChainOutput] = []
        for output in unspent:
            coins.append(output)
            if sum(coin.amount_sats for coin in coins) >= amount_sats + FEE_SATS:
                break
        else:
            mine(1)
            return pay(address=address, amount_sats=amount_sats)
        spend = bitcoin.dev_spend(
            coins=[bitcoin.Coin(coin.transaction.txid, coin.vout, coin.amount_sats) for coin in coins],
            to_address=address,
            amount_sats=amount_sats,
            fee_sats=FEE_SATS,
        )
        row = _store(spend, block=None, position=0, fee_sats=FEE_SATS)
        ChainOutput.objects.filter(pk__in=[coin.pk for coin in coins]).update(spent_by=row)
        return Paid(txid=spend.txid, amount_sats=amount_sats)


def reorganise(blocks: int, *, drop: bool = False) -> int:
    """Replace the last ``blocks`` blocks with others at the same heights (new hashes) holding only
    their rewards: their other transactions go back to the mempool, or with ``drop`` vanish."""
    _require()
    with transaction.atomic():
        top = tip_height()
        for block in ChainBlock.objects.select_for_update().filter(height__gt=top - blocks):
            others = ChainTransaction.objects.filter(block=block).exclude(position=0)
            if drop:
                _drop(list(others))
            else:
                others.update(block=None, position=0)
            block.block_hash = hashlib.sha256(f"reorganised-{block.block_hash}".encode()).hexdigest()
            block.save(update_fields=["block_hash"])
        return top


def _drop(rows: list[ChainTransaction]) -> None:
    """Remove transactions and, first, whatever spent their outputs; give back the coins they spent."""
    for row in rows:
        children = list(
            ChainTransaction.objects.filter(pk__in=row.outputs.exclude(spent_by=None).values("spent_by"))
        )
        _drop(children)
        ChainOutput.objects.filter(spent_by=row).update(spent_by=None)
        row.delete()


# --- What the Esplora views answer -----------------------------------------------------------------


def transaction_json(row: ChainTransaction, tip: int) -> dict[str, object]:
    """A transaction in Esplora's shape (the fields the watcher and common clients read)."""
    status: dict[str, object] = {"confirmed": row.block_id is not None}
    if row.block is not None:
        status.update(
            block_height=row.block.height,
            block_hash=row.block.block_hash,
            block_time=int(row.block.created_at.timestamp()),
        )
    return {
        "txid": row.txid,
        "version": 1,
        "locktime": 0,
        "size": len(row.raw_hex) // 2,
        "weight": len(row.raw_hex) * 2,
        "fee": row.fee_sats,
        "vout": [
            {
                "scriptpubkey_address": output.address,
                "scriptpubkey_type": "v0_p2wpkh",
                "value": output.amount_sats,
            }
            for output in row.outputs.order_by("vout")
        ],
        "status": status,
    }


def transactions_to(address: str) -> list[dict[str, object]]:
    """Esplora's order: mempool first (newest first), then confirmed, newest first."""
    _require()
    tip = tip_height()
    rows = (
        ChainTransaction.objects.filter(outputs__address=address)
        .select_related("block")
        .distinct()
        .order_by("-block__height", "-created_at")
    )
    unconfirmed = [row for row in rows if row.block_id is None]
    confirmed = [row for row in rows if row.block_id is not None]
    return [transaction_json(row, tip) for row in unconfirmed + confirmed]


def transaction_by_id(txid: str) -> ChainTransaction | None:
    _require()
    return ChainTransaction.objects.select_related("block").filter(txid=txid).first()
