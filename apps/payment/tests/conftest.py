"""Fixtures of the payment tests: the development chain served over real HTTP by the live server, the
watcher pointed at it, a product for sale and members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from apps.payment import services

PRICE = 50_000


@pytest.fixture(autouse=True)
def chain_api(english: None, redis_namespace: str, live_server: LiveServer, settings: Any) -> str:
    # One confirmation for every amount unless a test says otherwise; the watcher reads over HTTP.
    settings.PAYMENT_CONFIRMATIONS = [(0, 1)]
    settings.PAYMENT_ZERO_CONF_BELOW_SATS = 0
    settings.PAYMENT_ESPLORA_URL = f"{live_server.url}/dev/esplora"
    return str(settings.PAYMENT_ESPLORA_URL)


@pytest.fixture
def product() -> services.ProductRef:
    return services.product_register(
        app_label="status", code="agent-30", title="Agent, 30 days", price_sats=PRICE
    )


@pytest.fixture
def alice(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def bob(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def pay() -> Callable[..., None]:
    """``manage.py payment_pay`` as a newcomer runs it."""

    def run(
        public_id: str | None = None,
        *,
        amount: int | None = None,
        confirm: int = 0,
        reorg: int = 0,
        drop: bool = False,
    ) -> None:
        arguments: list[str] = [public_id] if public_id else []
        if amount is not None:
            arguments += ["--amount", str(amount)]
        if confirm:
            arguments += ["--confirm", str(confirm)]
        if reorg:
            arguments += ["--reorg", str(reorg)]
        if drop:
            arguments.append("--drop")
        call_command("payment_pay", *arguments)

    return run
