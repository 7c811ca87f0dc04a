"""manage.py seed_frames: the demo frames on top of ``seed_forum --demo``.

Three frames: a gold ring (a PNG drawn here with Pillow, for anyone), a silver laurel (an SVG, a
limited edition of 25) and an agent's seal (an SVG, for members with the Agent status). The SVGs go
through the same sanitiser as staff's uploads. The demo member ada (an Agent, who replies in the demo
threads) is given the seal and wears it, so the thread page shows a frame at once. Through the
services, as staff would. Idempotent: when the catalogue has frames, it does nothing. The launcher
calls it after ``seed_forum --demo`` (the kernel names commands, it imports no app).
"""

from __future__ import annotations

import io
import math
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image, ImageDraw

from apps.frame.services import frame_catalogue, frame_create, frame_equip, frame_grant

WEARER = "ada"


def gold_ring_png(size: int = 240) -> bytes:
    """A gold ring with studs, transparent inside: the avatar fills the middle 80%."""
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    band = size // 10
    for step in range(band):
        shade = 150 + int(90 * math.sin(math.pi * step / band))
        draw.ellipse(
            (step, step, size - 1 - step, size - 1 - step),
            outline=(shade, int(shade * 0.78), 40, 255),
            width=1,
        )
    centre, radius = size / 2, size / 2 - band / 2
    for stud in range(12):
        angle = 2 * math.pi * stud / 12
        x, y = centre + radius * math.cos(angle), centre + radius * math.sin(angle)
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(255, 244, 200, 255))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _leaves() -> str:
    leaves = []
    for number in range(24):
        angle = 360 * number / 24
        leaves.append(
            f'<ellipse cx="50" cy="5.5" rx="2.2" ry="4.5" fill="#cfd8dc" stroke="#78909c" stroke-width="0.4"'
            f' transform="rotate({angle:.1f} 50 50)"/>'
        )
    return "".join(leaves)


SILVER_LAUREL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<circle cx="50" cy="50" r="45" fill="none" stroke="#90a4ae" stroke-width="3"/>' + _leaves() + "</svg>"
)


def _stars() -> str:
    stars = []
    for number in range(5):
        angle = -60 + 30 * number
        stars.append(
            '<polygon points="50,1 51.8,5.2 56.2,5.2 52.7,7.9 54,12 50,9.5 46,12 47.3,7.9 43.8,5.2 48.2,5.2"'
            f' fill="#ffca28" transform="rotate({angle} 50 50)"/>'
        )
    return "".join(stars)


AGENT_SEAL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<defs><linearGradient id="seal" x1="0" y1="0" x2="1" y2="1">'
    '<stop offset="0" stop-color="#1a237e"/><stop offset="1" stop-color="#4a148c"/></linearGradient></defs>'
    '<circle cx="50" cy="50" r="45" fill="none" stroke="url(#seal)" stroke-width="9"/>'
    '<circle cx="50" cy="50" r="49.5" fill="none" stroke="#ffca28" stroke-width="1"/>' + _stars() + "</svg>"
)


class Command(BaseCommand):
    help = "Add the demo frames to the demo forum, one worn by a demo member (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production", action="store_true", help="Seed even in the production profile."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        if frame_catalogue(viewer_id=None):
            self.stdout.write("seed_frames: the demo frames are there")
            return
        frame_create(
            name="Gold ring",
            price_sats=20_000,
            image=io.BytesIO(gold_ring_png()),
            filename="gold.png",
            position=1,
        )
        frame_create(
            name="Silver laurel",
            price_sats=35_000,
            image=io.BytesIO(SILVER_LAUREL_SVG.encode()),
            filename="laurel.svg",
            left=25,
            position=2,
        )
        seal = frame_create(
            name="Agent's seal",
            price_sats=50_000,
            image=io.BytesIO(AGENT_SEAL_SVG.encode()),
            filename="seal.svg",
            holders_only_status="agent",
            position=3,
        )
        wearer = get_user_model().objects.filter(username=WEARER).values_list("pk", flat=True).first()
        if wearer is not None:
            frame_grant(frame_id=seal.id, member_id=int(wearer), granted_by=None)
            frame_equip(member_id=int(wearer), frame_id=seal.id)
        self.stdout.write(f"seed_frames: 3 frames created{f', {WEARER} wears one' if wearer else ''}")
