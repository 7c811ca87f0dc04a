"""A frame bought end to end: an invoice from the frame's page, paid with a real transaction signed by
the development wallet (``manage.py payment_pay``), read by the watcher over HTTP from the development
chain's Esplora API (the live server), settled, fulfilled from ``payment.invoice_settled``, then worn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management import call_command
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from apps.frame import services
from apps.payment.services import invoice_check

from .conftest import Handler


def test_a_frame_paid_on_the_development_chain_is_the_members_once_settled(
    live_server: LiveServer,
    settings: Any,
    make_frame: Callable[..., services.FrameRef],
    alice: int,
    web: Callable[[int | None], Client],
    handle: Handler,
) -> None:
    settings.PAYMENT_CONFIRMATIONS = [(0, 1)]
    settings.PAYMENT_ZERO_CONF_BELOW_SATS = 0
    settings.PAYMENT_ESPLORA_URL = f"{live_server.url}/dev/esplora"
    frame = make_frame(price_sats=15_000, left=5)
    client = web(alice)

    checkout = client.post(f"/frames/{frame.id}/buy/")["Location"]
    invoice_id = checkout.rstrip("/").rsplit("/", 1)[-1]
    call_command("payment_pay", invoice_id)
    assert invoice_check(public_id=invoice_id).state == "processing"
    handle()
    assert services.frames_owned(member_id=alice) == []  # seen, not confirmed: not yet
    call_command("payment_pay", "--confirm", "1")
    settled = invoice_check(public_id=invoice_id)
    assert (settled.state, settled.paid_sats) == ("settled", 15_000)
    handle()
    handle.again()

    owned = services.frames_owned(member_id=alice)
    assert [(mine.frame.id, mine.source) for mine in owned] == [(frame.id, "bought")]
    assert services.frame_get(frame_id=frame.id).left == 4
    assert client.post("/frames/wear/", {"frame": str(frame.id)}).status_code == 302
    assert f'src="{frame.image_url}"' in client.get(f"/members/{alice}/").content.decode()
