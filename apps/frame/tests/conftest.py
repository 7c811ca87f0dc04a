"""Fixtures of the frame tests: pictures made with Pillow, frames, members, clients, and a runner of
this app's subscribers over the events published so far (the bus delivers after commit through the
broker; tests run the subscribers themselves, exactly as a worker would)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from apps.frame import services
from forum.testing.fixtures import local_upload_storages
from forum.testing.outbox import OutboxWorker

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
def web(web_as: Callable[[int | None], Client]) -> Callable[[int | None], Client]:
    """The kernel's ``web_as`` under this app's tests' name."""
    return web_as


@pytest.fixture
def api(api_as: Callable[[int | None], APIClient]) -> Callable[[int | None], APIClient]:
    """The kernel's ``api_as`` under this app's tests' name."""
    return api_as


class Handler(OutboxWorker):
    """Runs the frame app's subscribers on the events published so far and not yet handled here,
    through the named Celery tasks a worker runs (with the bus's once-per-event record)."""

    PREFIXES = ("frame.",)


@pytest.fixture
def handle() -> Handler:
    return Handler()
