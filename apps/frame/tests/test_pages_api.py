"""The frames' pages and API: the catalogue, the member's frames, buying (a redirect to the checkout
page), wearing one or none without JavaScript, the pictures, refusals as 4xx, constant query counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.frame import services
from apps.status.services import status_grant

from .page_tree import Page

MakeFrame = Callable[..., services.FrameRef]
Web = Callable[[int | None], Client]
Api = Callable[[int | None], APIClient]


def queries(client: Client | APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_the_catalogue_shows_prices_left_counts_marks_and_buy_forms(
    make_frame: MakeFrame, alice: int, web: Web
) -> None:
    gold = make_frame(name="Gold", price_sats=25_000, left=3)
    agents = make_frame(name="Agents' ring", holders_only_status="agent")
    mine = make_frame(name="Mine")
    services.frame_grant(frame_id=mine.id, member_id=alice, granted_by=None)
    services.frame_equip(member_id=alice, frame_id=mine.id)
    make_frame(name="Withdrawn", active=False)

    html = web(alice).get("/frames/").content.decode()
    page = Page(html)
    assert "Withdrawn" not in html
    gold_card = page.find_one(f"#frame-{gold.id}")
    assert "25,000 satoshis" in gold_card.text() and "3 left" in gold_card.text()
    assert gold_card.find_one("form").get("action") == f"/frames/{gold.id}/buy/"
    assert gold_card.find_one("form").get("method") == "post"
    agents_card = page.find_one(f"#frame-{agents.id}")
    assert "For Agent only" in agents_card.text() and not agents_card.find("form")
    assert "Worn" in page.find_one(f"#frame-{mine.id}").text()
    assert page.find_one(f"#frame-{gold.id} img").get("src") == gold.image_url

    guest = Page(Client().get("/frames/").content.decode())
    assert "Sign in to buy" in guest.find_one(f"#frame-{gold.id}").text()


def test_buying_on_the_page_goes_to_the_checkout_and_refusals_stay_on_the_page(
    make_frame: MakeFrame, alice: int, web: Web
) -> None:
    frame = make_frame(left=1)
    client = web(alice)
    response = client.post(f"/frames/{frame.id}/buy/")
    assert response.status_code == 302 and response["Location"].startswith("/pay/")
    assert client.post(f"/frames/{frame.id}/buy/")["Location"] == response["Location"]  # the same invoice

    others = web(None)
    assert others.post(f"/frames/{frame.id}/buy/").status_code == 302  # to sign in
    assert client.get(f"/frames/{frame.id}/buy/").status_code == 405

    agents = make_frame(name="For agents", holders_only_status="agent")
    refused = client.post(f"/frames/{agents.id}/buy/")
    assert refused.status_code == 403
    assert "only for members holding" in Page(refused.content.decode()).find_one(".alert--error").text()
    assert client.post("/frames/999999/buy/").status_code == 404


def test_my_frames_wear_one_or_none_with_plain_forms(
    make_frame: MakeFrame, alice: int, bob: int, web: Web
) -> None:
    gold, silver = make_frame(name="Gold"), make_frame(name="Silver", svg=True)
    for frame in (gold, silver):
        services.frame_grant(frame_id=frame.id, member_id=alice, granted_by=None)
    client = web(alice)
    page = Page(client.get("/frames/mine/").content.decode())
    assert len(page.find(".frames form")) == 2  # wear either; nothing worn, so no "wear none"

    response = client.post("/frames/wear/", {"frame": str(silver.id)})
    assert response.status_code == 302 and response["Location"] == "/frames/mine/"
    page = Page(client.get("/frames/mine/").content.decode())
    assert "Worn" in page.find_one(f"#frame-{silver.id}").text()
    assert any(field.get("value") == "none" for field in page.find(".frames input"))
    assert client.post("/frames/wear/", {"frame": str(gold.id)}).status_code == 302
    assert services.equipped_frames_for(user_ids=[alice])[alice].frame_id == gold.id

    assert client.post("/frames/wear/", {"frame": "none"}).status_code == 302
    assert services.equipped_frames_for(user_ids=[alice]) == {}
    # Someone else's frame, or nonsense: 404, nothing changes.
    assert web(bob).post("/frames/wear/", {"frame": str(gold.id)}).status_code == 404
    assert client.post("/frames/wear/", {"frame": "abc"}).status_code == 404
    assert Client().get("/frames/mine/").status_code == 302


def test_pictures_are_served_by_version_and_svg_is_sandboxed(make_frame: MakeFrame) -> None:
    png, svg = make_frame(), make_frame(svg=True)
    response = Client().get(png.image_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert b"".join(response.streaming_content)[:4] == b"RIFF"  # type: ignore[attr-defined]
    drawn = Client().get(svg.image_url)
    assert drawn["Content-Type"] == "image/svg+xml" and "sandbox" in drawn["Content-Security-Policy"]
    assert b"<circle" in b"".join(drawn.streaming_content)  # type: ignore[attr-defined]
    stale = png.image_url.replace("/image/", "/image/0").replace("0", "1", 1)
    for url in (
        stale,
        f"/frames/{png.id}/image/abc.webp",
        png.image_url.replace(".webp", ".svg"),
        "/frames/9/image/a.webp",
    ):
        assert Client().get(url).status_code == 404, url


def test_the_api_lists_buys_and_wears(make_frame: MakeFrame, alice: int, api: Api) -> None:
    frame = make_frame(price_sats=30_000, left=5)
    agents = make_frame(name="For agents", holders_only_status="agent")
    client = api(alice)
    listed = client.get("/api/v1/frames").json()["frames"]
    assert [(entry["frame"]["id"], entry["refusal"], entry["can_buy"]) for entry in listed] == [
        (frame.id, "", True),
        (agents.id, "holders_only", False),
    ]
    assert listed[0]["frame"]["price_sats"] == 30_000 and listed[0]["frame"]["left"] == 5
    assert api(None).get("/api/v1/frames").json()["frames"][0]["refusal"] == "guest"

    bought = client.post(f"/api/v1/frames/{frame.id}/buy")
    assert bought.status_code == 201
    body = bought.json()
    assert body["checkout_url"] == f"/pay/{body['invoice_id']}/" and body["amount_sats"] == 30_000
    again = client.post(f"/api/v1/frames/{frame.id}/buy")
    assert again.status_code == 200 and again.json()["invoice_id"] == body["invoice_id"]
    assert client.get(f"/api/v1/invoices/{body['invoice_id']}").json()["product"] == f"frame:{frame.id}"

    refused = client.post(f"/api/v1/frames/{agents.id}/buy")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "holders_only"
    assert client.post("/api/v1/frames/99999/buy").json()["error"]["code"] == "not_found"
    assert api(None).post(f"/api/v1/frames/{frame.id}/buy").status_code in {401, 403}

    services.frame_grant(frame_id=agents.id, member_id=alice, granted_by=None)
    worn = client.put("/api/v1/me/frame", {"frame_id": agents.id}, format="json")
    assert worn.status_code == 200 and worn.json()["frame_id"] == agents.id
    mine = client.get("/api/v1/me/frames").json()
    assert [(row["frame"]["id"], row["source"], row["equipped"]) for row in mine] == [
        (agents.id, "granted", True)
    ]
    assert client.put("/api/v1/me/frame", {"frame_id": frame.id}, format="json").status_code == 404
    bad = client.put("/api/v1/me/frame", {"frame_id": "x"}, format="json")
    assert bad.status_code == 400 and "frame_id" in bad.json()["error"]["fields"]
    assert client.delete("/api/v1/me/frame").status_code == 204
    assert client.get("/api/v1/me/frames").json()[0]["equipped"] is False


def test_the_schema_documents_the_frames_api(client: Client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/frames", "/api/v1/frames/{frame_id}/buy", "/api/v1/me/frames", "/api/v1/me/frame"):
        assert path in schema["paths"], path
    assert {"put", "delete"} <= set(schema["paths"]["/api/v1/me/frame"])


def test_pages_and_api_lists_run_the_same_queries_for_one_frame_or_twelve(
    make_frame: MakeFrame, alice: int, web: Web, api: Api
) -> None:
    status_grant(user_id=alice, status_code="agent", source="staff")
    client, api_client = web(alice), api(alice)
    client.get("/frames/")

    def own(frame: services.FrameRef) -> None:
        services.frame_grant(frame_id=frame.id, member_id=alice, granted_by=None)

    own(make_frame(holders_only_status="agent", left=2))
    make_frame(name="Not owned", holders_only_status="reader")
    counts = [queries(client, url) for url in ("/frames/", "/frames/mine/")]
    api_counts = [queries(api_client, url) for url in ("/api/v1/frames", "/api/v1/me/frames")]
    for number in range(10):
        frame = make_frame(name=f"F{number}", holders_only_status="agent" if number % 2 else "", left=number)
        if number % 3 == 0:
            own(frame)
    assert [queries(client, url) for url in ("/frames/", "/frames/mine/")] == counts
    assert [queries(api_client, url) for url in ("/api/v1/frames", "/api/v1/me/frames")] == api_counts


def test_the_profile_draws_the_worn_frame(make_frame: MakeFrame, alice: int, bob: int, web: Web) -> None:
    frame = make_frame()
    services.frame_grant(frame_id=frame.id, member_id=alice, granted_by=None)
    services.frame_equip(member_id=alice, frame_id=frame.id)
    page = Page(web(bob).get(f"/members/{alice}/").content.decode())
    slot = page.find_one('[data-frame-slot="profile"]')
    assert slot.get("data-frame") == f"frame-{frame.id}"
    assert slot.find_one(".profile-avatar__frame").get("src") == frame.image_url
    assert not Page(web(alice).get(f"/members/{bob}/").content.decode()).find(".profile-avatar__frame")


def test_the_member_menu_links_to_my_frames(alice: int, web: Web) -> None:
    page = Page(web(alice).get("/frames/").content.decode())
    assert any(link.get("href") == "/frames/mine/" for link in page.find(".member-menu a"))


def test_payments_not_set_up_answer_503_and_keep_the_unit(
    make_frame: MakeFrame, alice: int, web: Web, api: Api, settings: Any
) -> None:
    frame = make_frame(left=1)
    settings.PAYMENT_XPUB = ""
    page = web(alice).post(f"/frames/{frame.id}/buy/")
    assert page.status_code == 503 and Page(page.content.decode()).find(".alert--error")
    answer = api(alice).post(f"/api/v1/frames/{frame.id}/buy")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "payments_unavailable"
    assert services.frame_get(frame_id=frame.id).left == 1  # the unit taken was given back with the rollback
