"""Watch-only addresses: one fresh BIP84 address per invoice, the same from any export of the key,
never from a private key; the gap-limit warning in /health/ready."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from bitcoinlib.keys import HDKey
from django.test import Client

from apps.payment import bitcoin, services
from apps.payment.bitcoin import AddressError
from apps.payment.models import Invoice

SEED = hashlib.sha256(b"payment address test").digest()


def test_every_export_of_one_account_key_gives_the_same_addresses() -> None:
    account = HDKey.from_seed(SEED, network="testnet", witness_type="segwit").key_for_path("m/84'/1'/0'")
    vpub = account.public().wif_public()
    assert vpub.startswith("vpub")
    tpub = account.public().wif_public(witness_type="legacy")
    assert tpub.startswith("tpub")
    expected = account.child_private(0).child_private(3).address(encoding="bech32")
    for text in (vpub, tpub):
        assert bitcoin.address_at(bitcoin.account_key(text, "testnet"), 3) == expected
    assert bitcoin.address_at(bitcoin.account_key(vpub, "signet"), 3) == expected
    assert bitcoin.address_at(bitcoin.account_key(vpub, "bitcoin"), 3).startswith("bc1q")
    with pytest.raises(AddressError):
        bitcoin.account_key(account.wif_private(), "testnet")
    with pytest.raises(AddressError):
        bitcoin.account_key(vpub[:-1] + ("1" if vpub[-1] != "1" else "2"), "testnet")


def test_invoices_get_fresh_addresses_and_the_gap_limit_is_reported(
    alice: int, product: services.ProductRef, settings: Any
) -> None:
    settings.PAYMENT_GAP_LIMIT = 2
    invoices = [
        services.invoice_create(member_id=alice, product_app=product.app_label, product_code=product.code)
        for _ in range(3)
    ]
    assert len({invoice.address for invoice in invoices}) == 3
    key = bitcoin.account_key(settings.PAYMENT_XPUB, "regtest")
    rows = list(Invoice.objects.order_by("derivation_index").values_list("derivation_index", "address"))
    first = rows[0][0]
    assert rows == [(first + step, bitcoin.address_at(key, first + step)) for step in range(3)]
    assert [invoice.address for invoice in invoices] == [address for _index, address in rows]
    answer = Client().get("/health/ready").json()
    assert answer["details"]["payment"]["gap"] == {"unpaid_ahead": 3, "gap_limit": 2, "exceeded": True}
    assert any("gap limit" in warning for warning in answer["details"]["payment"]["warnings"])


def test_payments_are_refused_clearly_without_an_account_key(
    alice: int, product: services.ProductRef, settings: Any
) -> None:
    settings.PAYMENT_XPUB = ""
    with pytest.raises(services.PaymentsUnavailable):
        services.invoice_create(member_id=alice, product_app=product.app_label, product_code=product.code)


def test_invoice_ids_never_start_with_a_dash() -> None:
    """An id is typed on command lines (`manage.py payment_pay ID`), where a leading dash reads as an
    option; token_urlsafe starts one id in 64 with it."""
    ids = [services._new_public_id() for _ in range(2000)]
    assert not any(value.startswith("-") for value in ids)
    assert all(len(value) == 22 for value in ids) and len(set(ids)) == len(ids)
