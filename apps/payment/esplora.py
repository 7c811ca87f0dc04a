"""A small client of the Esplora HTTP API (Blockstream's esplora, electrs, mempool.space, and the
development chain under /dev/esplora/): the tip height and the outputs paying one address.

Everything it returns is checked: amounts must be JSON integers of satoshis (a float or a string is
refused, never rounded), heights whole numbers. Any failure is an ``EsploraError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

__all__ = ["ChainOutput", "EsploraClient", "EsploraError"]

# Esplora pages an address's confirmed transactions 25 at a time (after up to 50 in the mempool).
_CHAIN_PAGE = 25
_MAX_PAGES = 40


class EsploraError(Exception):
    """The API did not answer, or answered something that is not what Esplora sends."""


@dataclass(frozen=True)
class ChainOutput:
    """An output paying the asked address: ``block_height`` None while unconfirmed."""

    txid: str
    vout: int
    amount_sats: int
    block_height: int | None


def _whole(value: Any, what: str) -> int:
    # bool is an int to Python; a JSON true is no amount.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EsploraError(f"{what} is not a whole non-negative number: {value!r}")
    return value


class EsploraClient:
    def __init__(self, base_url: str | None = None, *, timeout: float | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.PAYMENT_ESPLORA_URL).rstrip("/")
        if not self.base_url:
            raise EsploraError("PAYMENT_ESPLORA_URL is not set")
        self.timeout = timeout if timeout is not None else settings.PAYMENT_ESPLORA_TIMEOUT_SECONDS
        self.session = requests.Session()

    def _get(self, path: str) -> requests.Response:
        try:
            response = self.session.get(f"{self.base_url}{path}", timeout=self.timeout)
        except requests.RequestException as error:
            raise EsploraError(f"{type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise EsploraError(f"GET {path} answered {response.status_code}")
        return response

    def tip_height(self) -> int:
        text = self._get("/blocks/tip/height").text.strip()
        if not text.isdigit():
            raise EsploraError(f"the tip height is not a number: {text[:50]!r}")
        return int(text)

    def _json(self, path: str) -> Any:
        try:
            return self._get(path).json()
        except ValueError:
            raise EsploraError(f"GET {path} answered something that is not JSON") from None

    def outputs_to(self, address: str) -> list[ChainOutput]:
        """Every output of the mempool and the chain paying ``address``."""
        found: list[ChainOutput] = []
        path = f"/address/{address}/txs"
        for _page in range(_MAX_PAGES):
            transactions = self._json(path)
            if not isinstance(transactions, list):
                raise EsploraError("an address's transactions are not a list")
            confirmed = 0
            for transaction in transactions:
                found.extend(self._outputs_of(transaction, address))
                confirmed += 1 if transaction["status"].get("confirmed") else 0
            if confirmed < _CHAIN_PAGE:
                return found
            path = f"/address/{address}/txs/chain/{transactions[-1]['txid']}"
        raise EsploraError(f"more than {_MAX_PAGES} pages of transactions for one address")

    @staticmethod
    def _outputs_of(transaction: Any, address: str) -> list[ChainOutput]:
        try:
            txid = transaction["txid"]
            status = transaction["status"]
            outputs = transaction["vout"]
        except (KeyError, TypeError):
            raise EsploraError("a transaction without txid, status or vout") from None
        if not isinstance(txid, str) or len(txid) != 64:
            raise EsploraError(f"a bad txid: {txid!r}")
        height = _whole(status["block_height"], "block_height") if status.get("confirmed") else None
        return [
            ChainOutput(
                txid=txid, vout=number, amount_sats=_whole(output.get("value"), "value"), block_height=height
            )
            for number, output in enumerate(outputs)
            if output.get("scriptpubkey_address") == address
        ]
