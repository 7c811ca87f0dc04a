"""Staff keep the catalogue in the Django admin (image upload with a preview, an SVG only sanitised,
the payment app's product registered on save) and grant frames to members picked by name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.authorization.services import role_assign
from apps.frame import services
from apps.payment.services import invoice_create

from .conftest import ring_png

ADD_URL = "/admin/frame/frame/add/"


def admin_client(make_member: Callable[..., int]) -> tuple[Client, int]:
    staff = make_member()
    role_assign(user_id=staff, role="admin")
    client = Client()
    client.force_login(get_user_model().objects.get(pk=staff))
    return client, staff


def frame_form(name: str, upload: SimpleUploadedFile | None, **fields: str) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": name,
        "price_sats": "12000",
        "holders_only_status": "",
        "left": "",
        "active": "on",
        "position": "0",
        **fields,
    }
    if upload is not None:
        form["image"] = upload
    return form


def _frame_id(name: str) -> int:
    entries = [entry.frame for entry in services.frame_catalogue(viewer_id=None) if entry.frame.name == name]
    assert len(entries) == 1
    return entries[0].id


def test_staff_add_a_frame_with_a_png_and_see_its_preview(make_member: Callable[..., int]) -> None:
    client, _staff = admin_client(make_member)
    form = client.get(ADD_URL).content.decode()
    assert 'type="file"' in form and 'value="agent"' in form  # the statuses to reserve it to

    upload = SimpleUploadedFile("ring.png", ring_png(), content_type="image/png")
    response = client.post(ADD_URL, frame_form("Gold", upload, left="5", holders_only_status="agent"))
    assert response.status_code == 302
    frame = services.frame_get(frame_id=_frame_id("Gold"))
    assert (frame.price_sats, frame.left, frame.holders_only_status) == (12_000, 5, "agent")
    # Registered as the payment app's product frame:<id>.
    buyer = make_member()
    assert (
        invoice_create(member_id=buyer, product_app="frame", product_code=str(frame.id)).amount_sats == 12_000
    )

    change = client.get(f"/admin/frame/frame/{frame.id}/change/").content.decode()
    assert f'src="{frame.image_url}"' in change
    listing = client.get("/admin/frame/frame/").content.decode()
    assert f'src="{frame.image_url}"' in listing

    # Another price and off sale: the product follows.
    assert (
        client.post(
            f"/admin/frame/frame/{frame.id}/change/", frame_form("Gold", None, price_sats="9000", active="")
        ).status_code
        == 302
    )
    assert services.frame_get(frame_id=frame.id).price_sats == 9000


def test_an_svg_upload_is_sanitised_and_other_files_are_refused_on_the_form(
    make_member: Callable[..., int],
) -> None:
    client, _staff = admin_client(make_member)
    hostile = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
        b"<script>alert(2)</script><circle r='4' fill='url(https://evil.example/x)' stroke='red'/></svg>"
    )
    upload = SimpleUploadedFile("ring.svg", hostile, content_type="image/svg+xml")
    assert client.post(ADD_URL, frame_form("Drawn", upload)).status_code == 302
    frame = services.frame_get(frame_id=_frame_id("Drawn"))
    stored = b"".join(Client().get(frame.image_url).streaming_content)  # type: ignore[attr-defined]
    assert b"<circle" in stored and b'stroke="red"' in stored
    for word in (b"script", b"onload", b"alert", b"evil"):
        assert word not in stored

    pdf = SimpleUploadedFile("ring.png", b"%PDF-1.4 not a picture", content_type="image/png")
    refused = client.post(ADD_URL, frame_form("Paper", pdf))
    assert refused.status_code == 200 and "accepted are: PNG, WebP" in refused.content.decode()
    missing = client.post(ADD_URL, frame_form("Nothing", None))
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    assert [entry.frame.name for entry in services.frame_catalogue(viewer_id=None)] == ["Drawn"]


def test_staff_grant_a_frame_to_a_member_picked_by_name(
    make_member: Callable[..., int],
    make_frame: Callable[..., services.FrameRef],
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    client, staff = admin_client(make_member)
    frame = make_frame(name="Gift", active=False)
    member = make_member()
    name = get_user_model().objects.get(pk=member).username

    form = client.get("/admin/frame/frameownership/add/").content.decode()
    assert "admin-autocomplete" in form and 'data-field-name="member"' in form
    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "frame", "model_name": "frameownership", "field_name": "member", "term": name},
    )
    assert [row["id"] for row in answer.json()["results"]] == [str(member)]

    added = client.post("/admin/frame/frameownership/add/", {"member": str(member), "frame": str(frame.id)})
    assert added.status_code == 302
    owned = services.frames_owned(member_id=member)
    assert [(mine.frame.id, mine.source) for mine in owned] == [(frame.id, "granted")]
    assert [(event["member_id"], event["granted_by"]) for event in outbox("frame.granted")] == [
        (member, staff)
    ]
    again = client.post("/admin/frame/frameownership/add/", {"member": str(member), "frame": str(frame.id)})
    assert again.status_code == 200 and "owns this frame already" in again.content.decode()
    listing = client.get("/admin/frame/frameownership/").content.decode()
    assert re.search(rf">{re.escape(name)}<", listing)


def test_members_cannot_reach_the_frame_admin(make_member: Callable[..., int]) -> None:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=make_member()))
    assert client.get(ADD_URL).status_code == 302
