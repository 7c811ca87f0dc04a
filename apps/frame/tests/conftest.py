"""Fixtures of the frame tests: pictures made with Pillow, frames, members, clients, and a runner of
this app's subscribers over the events published so far (the bus delivers after commit through the
broker; tests run the subscribers themselves, exactly as a worker would)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.test import Client
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from apps.frame import services
from forum import bus
from forum.models import OutboxEvent
from forum.testing.fixtures import local_upload_storages

RING_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    b'<circle cx="50" cy="50" r="45" fill="none" stroke="#c9a227" stroke-width="8"/></svg>'
)


def ring_png(colour: str = "gold", size: int = 120, fmt: str = "PNG") -> bytes:
    """A square picture, transparent but for a ring: what a frame looks like."""
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(picture).ellipse((4, 4, size - 5, size - 5), outline=colour, width=size // 12)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, settings: Any, tmp_path: Path) -> Iterator[None]:
    """English, Redis keys of its own, and uploads on local disk in a folder of the test's own."""
    local_upload_storages(settings, tmp_path)
    yield


@pytest.fixture
def make_frame(db: None) -> Callable[..., services.FrameRef]:
    def make(
        name: str = "Gold ring", price_sats: int = 20_000, svg: bool = False, **fields: Any
    ) -> services.FrameRef:
        data = RING_SVG if svg else ring_png()
        return services.frame_create(
            name=name,
            price_sats=price_sats,
            image=io.BytesIO(data),
            filename="ring.svg" if svg else "ring.png",
            **fields,
        )

    return make


@pytest.fixture
def alice(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def bob(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def web(django_user_model: Any) -> Callable[[int | None], Client]:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture
def api(django_user_model: Any) -> Callable[[int | None], APIClient]:
    def make(user_id: int | None) -> APIClient:
        client = APIClient()
        if user_id is not None:
            client.force_authenticate(django_user_model.objects.get(pk=user_id))
        return client

    return make


class Handler:
    """Runs the frame app's subscribers on the events published so far and not yet handled here,
    through the named Celery tasks a worker runs (with the bus's once-per-event record)."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    def __call__(self) -> int:
        handled = 0
        for row in OutboxEvent.objects.order_by("created_at", "id"):
            if str(row.id) in self.done:
                continue
            self.done.add(str(row.id))
            for subscriber in bus.subscribers_of(row.name, row.version):
                if subscriber.task_name.startswith("frame."):
                    current_app.tasks[subscriber.task_name].run(
                        str(row.id), row.name, row.version, row.payload
                    )
                    handled += 1
        return handled

    def again(self) -> int:
        """Delivers everything once more (a redelivery after a crash, say)."""
        self.done.clear()
        return self()


@pytest.fixture
def handle() -> Handler:
    return Handler()
