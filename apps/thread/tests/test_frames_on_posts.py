"""The frame a member wears, drawn around their avatar on the thread page (the frame app's
``equipped_frames_for``, read once per page through ``apps.user.services.profiles_for``): a frame
bought through an invoice, worn, and shown, at the same number of queries for 1 post as for 20 posts
by 20 members each wearing one."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import current_app
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageDraw

from apps.frame import services as frames
from apps.payment.services import invoice_settle_manually
from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum import bus
from forum.models import OutboxEvent
from forum.testing.fixtures import local_upload_storages


def _ring() -> io.BytesIO:
    picture = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(picture).ellipse((4, 4, 115, 115), outline="gold", width=10)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    out.seek(0)
    return out


def _deliver_to_the_frame_app() -> None:
    """What a worker does with the events so far: the frame app's subscribers, by their task names."""
    for row in OutboxEvent.objects.order_by("created_at", "id"):
        for subscriber in bus.subscribers_of(row.name, row.version):
            if subscriber.task_name.startswith("frame."):
                current_app.tasks[subscriber.task_name].run(str(row.id), row.name, row.version, row.payload)


def _queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200
    return len(captured), response.content.decode()


def test_a_bought_and_worn_frame_is_drawn_on_the_thread_page_at_constant_queries(
    tree: Tree,
    staff: int,
    make_member: Callable[..., int],
    django_user_model: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    local_upload_storages(settings, tmp_path)
    gold = frames.frame_create(name="Gold", price_sats=10_000, image=_ring(), filename="gold.png")

    # The first author buys it: an invoice, settled (staff here; test_chain.py in the frame app pays
    # on the development chain), fulfilled from payment.invoice_settled, then worn.
    buyer = make_member()
    purchase = frames.frame_buy(member_id=buyer, frame_id=gold.id)
    invoice_settle_manually(public_id=purchase.invoice_id, staff_id=staff, reason="paid")
    _deliver_to_the_frame_app()
    frames.frame_equip(member_id=buyer, frame_id=gold.id)

    thread = services.thread_create(author_id=buyer, forum_id=tree.general, title="Framed", body="Look")
    if thread.state != "approved":  # a new member's first thread waits for a moderator
        services.thread_approve(moderator_id=staff, thread_id=thread.id)
    reader = Client()
    reader.force_login(django_user_model.objects.get(pk=make_member()))
    reader.get("/")  # the first request of a session records it; the ones measured are ordinary
    url = f"/threads/{thread.id}/"
    one, html = _queries(reader, url)
    assert html.count('class="author-card__frame"') == 1
    assert f'src="{gold.image_url}"' in html and f'data-frame="frame-{gold.id}"' in html

    for number in range(19):
        author = make_member()
        frames.frame_grant(frame_id=gold.id, member_id=author, granted_by=staff)
        frames.frame_equip(member_id=author, frame_id=gold.id)
        services.post_create(author_id=author, thread_id=thread.id, body=f"Reply {number}")
    twenty, html = _queries(reader, url)
    assert html.count('class="author-card__frame"') == 20
    assert twenty == one

    frames.frame_unequip(member_id=buyer)
    _count, html = _queries(reader, url)
    assert html.count('class="author-card__frame"') == 19
