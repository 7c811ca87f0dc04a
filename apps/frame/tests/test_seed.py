"""The demo frames: three (one limited, one for Agents), made through the services on top of the demo
forum, with ada wearing the Agents' one so that the demo threads show a frame; idempotent."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from apps.frame import services


def test_the_demo_frames_are_seeded_once_and_one_is_worn_in_the_demo_threads(db: None) -> None:
    call_command("seed_forum", "--demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_frames", stdout=out)
    assert "3 frames created, ada wears one" in out.getvalue()
    again = io.StringIO()
    call_command("seed_frames", stdout=again)
    assert "there" in again.getvalue()

    catalogue = [entry.frame for entry in services.frame_catalogue(viewer_id=None)]
    assert [(frame.name, frame.left, frame.holders_only_status) for frame in catalogue] == [
        ("Gold ring", None, ""),
        ("Silver laurel", 25, ""),
        ("Agent's seal", None, "agent"),
    ]
    assert [frame.image_url.rsplit(".", 1)[-1] for frame in catalogue] == ["webp", "svg", "svg"]
    ada = get_user_model().objects.get(username="ada").pk
    worn = services.equipped_frames_for(user_ids=[ada])[ada]
    assert worn.name == "Agent's seal"
    for frame in catalogue:
        assert Client().get(frame.image_url).status_code == 200
    assert f'src="{worn.image_url}"' in Client().get(f"/members/{ada}/").content.decode()
