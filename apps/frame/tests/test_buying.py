"""Buying frames through the payment app's invoices: the checks before an invoice is made, limited
editions, fulfilment once per invoice from ``payment.invoice_settled``, units given back when an
invoice ends unpaid. Settled here by staff (``invoice_settle_manually``, which publishes the same
event once); test_chain.py pays with real transactions on the development chain."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from apps.frame import services
from apps.payment.services import (
    invoice_cancel,
    invoice_create,
    invoice_get,
    invoice_settle_manually,
    product_register,
)
from apps.status.services import status_grant, statuses_held_by
from forum.errors import ApplicationError, NotFound

from .conftest import Handler, ring_png

MakeFrame = Callable[..., services.FrameRef]


def settle(invoice_id: str, staff: int) -> None:
    invoice_settle_manually(public_id=invoice_id, staff_id=staff, reason="paid in the test")


@pytest.fixture
def staff(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True)


def test_a_frame_is_bought_once_per_invoice_whatever_the_redeliveries(
    make_frame: MakeFrame,
    alice: int,
    staff: int,
    handle: Handler,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    frame = make_frame(price_sats=21_000)
    purchase = services.frame_buy(member_id=alice, frame_id=frame.id)
    invoice = invoice_get(public_id=purchase.invoice_id, viewer_id=alice)
    assert (invoice.amount_sats, invoice.product_app, invoice.product_code) == (
        21_000,
        "frame",
        str(frame.id),
    )
    assert purchase.checkout_url == f"/pay/{purchase.invoice_id}/" and not purchase.reused
    assert services.frames_owned(member_id=alice) == []

    settle(purchase.invoice_id, staff)
    assert handle() == 1
    assert handle.again() == 1  # the bus's record skips it; the service would too
    assert (
        services.purchase_fulfil(
            invoice_id=purchase.invoice_id, member_id=alice, product_code=str(frame.id), paid_sats=21_000
        )
        is False
    )

    owned = services.frames_owned(member_id=alice)
    assert [(mine.frame.id, mine.source, mine.equipped) for mine in owned] == [(frame.id, "bought", False)]
    bought = outbox("frame.bought")
    assert [(event["frame_id"], event["member_id"], event["invoice_id"]) for event in bought] == [
        (frame.id, alice, purchase.invoice_id)
    ]
    assert bought[0]["paid_sats"] == 0  # settled by staff with nothing seen on the chain
    # Owned: no second invoice.
    with pytest.raises(ApplicationError) as refused:
        services.frame_buy(member_id=alice, frame_id=frame.id)
    assert (refused.value.status, refused.value.code) == (409, "frame_owned")


def test_buying_again_while_an_invoice_waits_gives_the_same_invoice(
    make_frame: MakeFrame, alice: int
) -> None:
    frame = make_frame()
    first = services.frame_buy(member_id=alice, frame_id=frame.id)
    again = services.frame_buy(member_id=alice, frame_id=frame.id)
    assert again.invoice_id == first.invoice_id and again.reused


def test_an_expired_invoice_is_replaced_by_a_new_one(make_frame: MakeFrame, alice: int, staff: int) -> None:
    frame = make_frame()
    first = services.frame_buy(member_id=alice, frame_id=frame.id)
    invoice_cancel(public_id=first.invoice_id, staff_id=staff, reason="test")
    second = services.frame_buy(member_id=alice, frame_id=frame.id)
    assert second.invoice_id != first.invoice_id and not second.reused


def test_a_limited_edition_counts_down_refuses_when_sold_out_and_takes_back_expired_units(
    make_frame: MakeFrame, alice: int, bob: int, make_member: Callable[..., int], staff: int, handle: Handler
) -> None:
    frame = make_frame(left=2)
    first = services.frame_buy(member_id=alice, frame_id=frame.id)
    assert services.frame_get(frame_id=frame.id).left == 1
    services.frame_buy(member_id=bob, frame_id=frame.id)
    assert services.frame_get(frame_id=frame.id).left == 0
    late = make_member()
    with pytest.raises(ApplicationError) as refused:
        services.frame_buy(member_id=late, frame_id=frame.id)
    assert (refused.value.status, refused.value.code) == (409, "sold_out")
    # Sold out: the payment app's own endpoint refuses the product too.
    with pytest.raises(NotFound):
        invoice_create(member_id=late, product_app="frame", product_code=str(frame.id))
    catalogue = {entry.frame.id: entry for entry in services.frame_catalogue(viewer_id=late)}
    assert catalogue[frame.id].refusal == "sold_out"

    # Alice's invoice ends unpaid: her unit is for sale again, once whatever the redeliveries.
    invoice_cancel(public_id=first.invoice_id, staff_id=staff, reason="never paid")
    handle()
    handle.again()
    assert services.frame_get(frame_id=frame.id).left == 1
    third = services.frame_buy(member_id=late, frame_id=frame.id)
    settle(third.invoice_id, staff)
    handle()
    assert services.frame_get(frame_id=frame.id).left == 0
    assert [owned.frame.id for owned in services.frames_owned(member_id=late)] == [frame.id]


def test_a_late_payment_of_a_released_invoice_still_gets_the_frame(
    make_frame: MakeFrame, alice: int, bob: int, staff: int, handle: Handler
) -> None:
    frame = make_frame(left=1)
    purchase = services.frame_buy(member_id=alice, frame_id=frame.id)
    invoice_cancel(public_id=purchase.invoice_id, staff_id=staff, reason="expired")
    handle()
    assert services.frame_get(frame_id=frame.id).left == 1
    other = services.frame_buy(member_id=bob, frame_id=frame.id)  # takes the unit back
    assert services.frame_get(frame_id=frame.id).left == 0
    # Alice paid after all and staff settle it: she paid, so she gets it; the count stays at 0.
    settle(purchase.invoice_id, staff)
    settle(other.invoice_id, staff)
    handle()
    assert services.frame_get(frame_id=frame.id).left == 0
    assert [owned.frame.id for owned in services.frames_owned(member_id=alice)] == [frame.id]
    assert [owned.frame.id for owned in services.frames_owned(member_id=bob)] == [frame.id]


def test_holders_only_frames_need_the_status_and_owning_a_frame_grants_none(
    make_frame: MakeFrame, alice: int, bob: int, staff: int, handle: Handler
) -> None:
    frame = make_frame(holders_only_status="agent")
    with pytest.raises(ApplicationError) as refused:
        services.frame_buy(member_id=alice, frame_id=frame.id)
    assert (refused.value.status, refused.value.code) == (403, "holders_only")
    assert {entry.frame.id: entry.refusal for entry in services.frame_catalogue(viewer_id=alice)}[
        frame.id
    ] == ("holders_only")

    status_grant(user_id=bob, status_code="agent", source="staff")
    purchase = services.frame_buy(member_id=bob, frame_id=frame.id)
    settle(purchase.invoice_id, staff)
    handle()
    services.frame_equip(member_id=bob, frame_id=frame.id)
    assert statuses_held_by(user_ids=[alice, bob]).get(alice, []) == []
    assert statuses_held_by(user_ids=[bob])[bob] == ["agent"]


def test_a_frame_off_sale_is_not_sold_and_unknown_ids_are_404(make_frame: MakeFrame, alice: int) -> None:
    frame = make_frame(active=False)
    for frame_id in (frame.id, 999_999, 2**70):
        with pytest.raises(NotFound):
            services.frame_buy(member_id=alice, frame_id=frame_id)
    with pytest.raises(NotFound):
        invoice_create(member_id=alice, product_app="frame", product_code=str(frame.id))


def test_an_invoice_made_through_the_payment_api_is_fulfilled_too(
    make_frame: MakeFrame, alice: int, staff: int, handle: Handler
) -> None:
    frame = make_frame(left=3)
    invoice = invoice_create(member_id=alice, product_app="frame", product_code=str(frame.id))
    settle(invoice.public_id, staff)
    handle()
    assert [owned.frame.id for owned in services.frames_owned(member_id=alice)] == [frame.id]
    assert services.frame_get(frame_id=frame.id).left == 2


def test_invoices_of_other_apps_are_left_alone(alice: int, staff: int, handle: Handler) -> None:
    product_register(app_label="status", code="agent-30", title="Agent", price_sats=5_000)
    invoice = invoice_create(member_id=alice, product_app="status", product_code="agent-30")
    settle(invoice.public_id, staff)
    assert handle() == 1  # delivered, and nothing done
    assert services.frames_owned(member_id=alice) == []


def test_wearing_one_frame_or_none(
    make_frame: MakeFrame, alice: int, bob: int, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    gold, silver = make_frame(name="Gold"), make_frame(name="Silver", svg=True)
    assert services.frame_grant(frame_id=gold.id, member_id=alice, granted_by=None)
    assert not services.frame_grant(frame_id=gold.id, member_id=alice, granted_by=None)
    services.frame_grant(frame_id=silver.id, member_id=alice, granted_by=None)
    with pytest.raises(NotFound):
        services.frame_equip(member_id=bob, frame_id=gold.id)  # not his

    worn = services.frame_equip(member_id=alice, frame_id=gold.id)
    assert worn.frame_id == gold.id and worn.image_url.endswith(".webp")
    services.frame_equip(member_id=alice, frame_id=silver.id)
    services.frame_equip(member_id=alice, frame_id=silver.id)  # no change, no event
    frames = services.equipped_frames_for(user_ids=[alice, bob])
    assert list(frames) == [alice] and frames[alice].frame_id == silver.id
    assert frames[alice].image_url.endswith(".svg")
    assert [(mine.frame.id, mine.equipped) for mine in services.frames_owned(member_id=alice)] == [
        (gold.id, False),
        (silver.id, True),
    ]
    assert [(event["frame_id"], event["previous_frame_id"]) for event in outbox("frame.equipped")] == [
        (gold.id, None),
        (silver.id, gold.id),
    ]
    assert services.frame_unequip(member_id=alice) and not services.frame_unequip(member_id=alice)
    assert services.equipped_frames_for(user_ids=[alice]) == {}
    assert [event["frame_id"] for event in outbox("frame.unequipped")] == [silver.id]
    assert [event["member_id"] for event in outbox("frame.granted")] == [alice, alice]


def test_equipped_frames_for_a_page_is_one_query(
    make_frame: MakeFrame, make_member: Callable[..., int], django_assert_num_queries: Any
) -> None:
    frame = make_frame()
    members = [make_member() for _ in range(20)]
    for member in members:
        services.frame_grant(frame_id=frame.id, member_id=member, granted_by=None)
        services.frame_equip(member_id=member, frame_id=frame.id)
    with django_assert_num_queries(1):
        assert len(services.equipped_frames_for(user_ids=members)) == 20
    with django_assert_num_queries(0):
        assert services.equipped_frames_for(user_ids=[]) == {}


def test_frame_images_png_webp_svg_and_refusals(make_frame: MakeFrame) -> None:
    webp = services.frame_create(
        name="W", price_sats=1, image=io.BytesIO(ring_png(fmt="WEBP")), filename="w.webp"
    )
    assert webp.image_url.endswith(".webp")
    for data, code in (
        (b"GIF89a" + b"\0" * 20, "file_type_not_allowed"),
        (b"%PDF-1.4 hello", "file_type_not_allowed"),
        (b"<svg><script>alert(1)</script></svg>", "svg_refused"),  # no namespace, no size
        (b"", "file_empty"),
    ):
        with pytest.raises(ApplicationError) as refused:
            services.frame_create(name="X", price_sats=1, image=io.BytesIO(data), filename="x.png")
        assert refused.value.code == code and "image" in refused.value.fields
    for fields in ({"price_sats": 0}, {"price_sats": -5}, {"name": " "}, {"left": -1}):
        arguments: dict[str, Any] = {"name": "Y", "price_sats": 10, **fields}
        with pytest.raises(ApplicationError) as refused:
            services.frame_create(image=io.BytesIO(ring_png()), filename="y.png", **arguments)
        assert refused.value.status == 400
