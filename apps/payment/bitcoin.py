"""What the payment app asks of bitcoinlib: watch-only BIP84 addresses, and the development wallet's
real signed transactions (the regtest chain only).

bitcoinlib writes a configuration, an install log and its own log file where ``BCL_DATA_DIR`` points
when it is first imported (``~/.bitcoinlib`` by default), so this module points it under
``PAYMENT_BITCOINLIB_DIR`` (``.data/``, a temporary folder in tests) and turns its log file off
before importing it. Nothing here touches bitcoinlib's wallet database.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _prepare_bitcoinlib() -> None:
    directory = Path(settings.PAYMENT_BITCOINLIB_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["BCL_DATA_DIR"] = str(directory)
    config = directory / "config.ini"
    if not config.exists():
        config.write_text("[logs]\nenable_bitcoinlib_logging = False\n")
    # Its "first run" (no install.log) copies its data files (network definitions, read from here) and
    # its default config.ini, which would turn the log file back on: copy the data files, then mark it.
    install_log = directory / "install.log"
    if not install_log.exists():
        spec = importlib.util.find_spec("bitcoinlib")
        if spec is None or not spec.submodule_search_locations:
            raise ImproperlyConfigured("bitcoinlib is not installed")
        for source in (Path(next(iter(spec.submodule_search_locations))) / "data").glob("*.json"):
            shutil.copyfile(source, directory / source.name)
        install_log.write_text("prepared by apps/payment/bitcoin.py\n")


_prepare_bitcoinlib()

from bitcoinlib.encoding import change_base, double_sha256  # noqa: E402
from bitcoinlib.keys import BKeyError, HDKey  # noqa: E402
from bitcoinlib.transactions import Transaction  # noqa: E402

__all__ = [
    "AddressError",
    "DevSpend",
    "HDKey",
    "account_key",
    "address_at",
    "dev_spend",
    "dev_wallet_address",
]

# Version bytes of a BIP84 account's public key: zpub on mainnet (bitcoinlib's regtest uses mainnet's
# prefixes), vpub on testnet and signet. Wallets export the same key as xpub, tpub, zpub or vpub; the
# 78 bytes after the version are what counts, so any of them is re-labelled for the chosen network.
_SEGWIT_PUBLIC_VERSION = {
    "bitcoin": bytes.fromhex("04B24746"),
    "regtest": bytes.fromhex("04B24746"),
    "testnet": bytes.fromhex("045F1CF6"),
    "signet": bytes.fromhex("045F1CF6"),
}
_PUBLIC_VERSIONS = {
    bytes.fromhex(value)
    for value in ("0488B21E", "04B24746", "043587CF", "045F1CF6")  # xpub zpub tpub vpub
}


class AddressError(ImproperlyConfigured):
    """The configured account key cannot give watch-only addresses."""


def _base58check_decode(text: str) -> bytes:
    raw = change_base(text, 58, 256)
    if not isinstance(raw, bytes) or len(raw) != 82:
        raise AddressError("PAYMENT_XPUB is not an extended public key (82 bytes in base58check)")
    payload, checksum = raw[:-4], raw[-4:]
    if double_sha256(payload)[:4] != checksum:
        raise AddressError("PAYMENT_XPUB has a wrong checksum")
    return bytes(payload)


def _base58check_encode(payload: bytes) -> str:
    encoded = change_base(payload + double_sha256(payload)[:4], 256, 58)
    # change_base drops leading zero bytes; extended keys never start with one.
    return str(encoded)


def account_key(extended_public_key: str, network: str) -> HDKey:
    """The watch-only account key of ``extended_public_key`` on ``network``; refuses private keys."""
    payload = _base58check_decode(extended_public_key.strip())
    if payload[:4] not in _PUBLIC_VERSIONS:
        raise AddressError("PAYMENT_XPUB must be an extended PUBLIC key (xpub, zpub, tpub or vpub)")
    relabelled = _base58check_encode(_SEGWIT_PUBLIC_VERSION[network] + payload[4:])
    try:
        key = HDKey(relabelled, network=network)
    except BKeyError as error:
        raise AddressError(f"PAYMENT_XPUB: {error}") from None
    if key.is_private:
        raise AddressError("PAYMENT_XPUB must not be a private key")
    return key


def address_at(key: HDKey, index: int) -> str:
    """The receiving address ``0/index`` below the account key, native segwit (P2WPKH, bech32)."""
    return str(key.child_public(0).child_public(index).address(encoding="bech32"))


# --- The development wallet (regtest chain only) ----------------------------------------------------


def _dev_key() -> HDKey:
    if not settings.PAYMENT_DEV_CHAIN or not settings.PAYMENT_DEV_WALLET_SEED:
        raise ImproperlyConfigured("the development wallet exists only with PAYMENT_DEV_CHAIN")
    seed = hashlib.sha256(settings.PAYMENT_DEV_WALLET_SEED.encode()).digest()
    master = HDKey.from_seed(seed, network="regtest", witness_type="segwit")
    return master.key_for_path("m/84'/1'/0'/0/0")


def dev_wallet_address() -> str:
    return str(_dev_key().address(encoding="bech32"))


@dataclass(frozen=True)
class DevSpend:
    """A signed transaction of the development wallet: its id, raw hex and outputs (vout, address, sats)."""

    txid: str
    raw_hex: str
    outputs: tuple[tuple[int, str, int], ...]


@dataclass(frozen=True)
class Coin:
    txid: str
    vout: int
    amount_sats: int


def coinbase(*, height: int, amount_sats: int) -> DevSpend:
    """A block reward to the development wallet (the height in its input keeps each txid unique)."""
    transaction = Transaction(network="regtest", coinbase=True, witness_type="legacy")
    transaction.add_input(
        prev_txid=b"\0" * 32,
        output_n=0xFFFFFFFF,
        unlocking_script=b"\x03" + height.to_bytes(3, "little"),
        script_type="coinbase",
        witness_type="legacy",
    )
    transaction.add_output(amount_sats, address=dev_wallet_address())
    return _spend(transaction)


def dev_spend(*, coins: list[Coin], to_address: str, amount_sats: int, fee_sats: int) -> DevSpend:
    """A real transaction paying ``amount_sats`` to ``to_address`` from ``coins``, change back, signed."""
    key = _dev_key()
    total = sum(coin.amount_sats for coin in coins)
    change = total - amount_sats - fee_sats
    if change < 0:
        raise ValueError("the development wallet's coins do not cover the amount and fee")
    transaction = Transaction(network="regtest", witness_type="segwit")
    for coin in coins:
        transaction.add_input(
            prev_txid=coin.txid,
            output_n=coin.vout,
            keys=key.public(),
            value=coin.amount_sats,
            witness_type="segwit",
        )
    transaction.add_output(amount_sats, address=to_address)
    if change:
        transaction.add_output(change, address=dev_wallet_address())
    transaction.sign(key)
    if not transaction.verify():
        raise ValueError("the development wallet signed a transaction that does not verify")
    return _spend(transaction)


def _spend(transaction: Any) -> DevSpend:
    raw_hex = str(transaction.raw_hex())
    # Parsed back: the txid bitcoinlib keeps on a transaction it built is not updated as it is filled.
    parsed = Transaction.parse_hex(raw_hex, network="regtest")
    outputs = tuple(
        (number, str(output.address), int(output.value)) for number, output in enumerate(parsed.outputs)
    )
    return DevSpend(txid=str(parsed.txid), raw_hex=raw_hex, outputs=outputs)
