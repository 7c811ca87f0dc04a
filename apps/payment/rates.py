"""Exchange rates: reading a rate API's answer, and turning fiat amounts into satoshis in integers.

Two public formats are understood, told apart by their shape:

- CoinGecko's ``/api/v3/simple/price?ids=bitcoin&vs_currencies=usd,eur,rub``:
  ``{"bitcoin": {"usd": 67187.34, "eur": 61830.5, "rub": 6012345}}``
- Kraken's ``/0/public/Ticker?pair=XBTUSD,XBTEUR``:
  ``{"error": [], "result": {"XXBTZUSD": {"c": ["67187.30000", "0.001"], ...}, ...}}`` (``c``: the
  last trade's price and volume)

Numbers are read as decimals straight from the JSON text (``parse_float=Decimal``), never as floats,
and kept to 8 decimal places (what is stored, so the rate an invoice locks is the rate it used).
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings

__all__ = ["RateError", "fetch", "parse", "parse_one", "sats_for"]

SATS_PER_BTC = 100_000_000
CENTS_PER_UNIT = 100
RATE_PLACES = Decimal("0.00000001")
# What DecimalField(max_digits=24, decimal_places=8) holds.
RATE_MAX = Decimal("9999999999999999")


class RateError(Exception):
    """The rate API did not answer, or answered something neither format explains."""


def _rate(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise RateError(f"{what} is not a number: {value!r}")
    try:
        rate = Decimal(value).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError):
        raise RateError(f"{what} is not a number: {value!r}") from None
    if not rate.is_finite() or rate <= 0 or rate > RATE_MAX:
        raise RateError(f"{what} is out of range: {value!r}")
    return rate


def parse_one(value: object) -> Decimal:
    """One rate typed by a person or given by a caller ("67187.34"), checked as the API's are."""
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
    return _rate(value, "the rate")


def parse(text: str, currencies: list[str]) -> dict[str, Decimal]:
    """The price of one bitcoin in each of ``currencies`` (upper case) that the answer gives."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError as error:
        raise RateError(f"the rate API's answer is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise RateError("the rate API's answer is not a JSON object")
    wanted = {currency.upper() for currency in currencies}
    found: dict[str, Decimal] = {}
    if isinstance(data.get("bitcoin"), dict):  # CoinGecko simple/price
        for key, value in data["bitcoin"].items():
            currency = str(key).upper()
            if currency in wanted:
                found[currency] = _rate(value, f"bitcoin.{key}")
    elif isinstance(data.get("result"), dict) and "error" in data:  # Kraken Ticker
        if data["error"]:
            raise RateError(f"the rate API reports: {data['error']}")
        for pair, ticker in data["result"].items():
            currency = str(pair)[-3:].upper()
            if "XBT" not in str(pair).upper() or currency not in wanted:
                continue
            last = ticker.get("c") if isinstance(ticker, dict) else None
            if not isinstance(last, list) or not last:
                raise RateError(f"{pair} has no last trade price (c)")
            found[currency] = _rate(last[0], f"{pair}.c[0]")
    else:
        raise RateError("the rate API's answer is neither CoinGecko's simple/price nor Kraken's Ticker")
    if not found:
        raise RateError(f"the rate API gives none of {sorted(wanted)}")
    return found


def fetch(url: str, currencies: list[str]) -> dict[str, Decimal]:
    """GET the rate API and parse it (raises RateError for any failure)."""
    try:
        response = requests.get(
            url,
            timeout=settings.PAYMENT_RATE_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as error:
        raise RateError(f"the rate API did not answer: {error}") from None
    if response.status_code != 200:
        raise RateError(f"the rate API answered HTTP {response.status_code}")
    return parse(response.text, currencies)


def sats_for(fiat_cents: int, fiat_per_btc: Decimal) -> int:
    """Satoshis for ``fiat_cents`` hundredths at ``fiat_per_btc``, rounded up to a whole satoshi (the
    member never pays less than the price), in integers only: the decimal rate is an exact fraction
    num/den, so sats = ceil(cents * 10**8 * den / (100 * num))."""
    if isinstance(fiat_cents, bool) or not isinstance(fiat_cents, int) or fiat_cents <= 0:
        raise ValueError("a fiat amount is a whole positive number of cents")
    numerator, denominator = fiat_per_btc.as_integer_ratio()
    if numerator <= 0:
        raise ValueError("a rate is positive")
    dividend = fiat_cents * SATS_PER_BTC * denominator
    divisor = CENTS_PER_UNIT * numerator
    return -(-dividend // divisor)
