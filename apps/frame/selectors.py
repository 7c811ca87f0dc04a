"""Reads of the frame app: a fixed number of queries whatever the page holds."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from apps.frame.models import Frame, FrameOwnership

FRAME_FIELDS = (
    "id",
    "name",
    "display_key",
    "image_type",
    "price_sats",
    "holders_only_status",
    "left",
    "active",
)


def frames_listed(*, only_active: bool = True) -> list[dict[str, Any]]:
    """The catalogue in its order, as plain rows (one query)."""
    rows = Frame.objects.all()
    if only_active:
        rows = rows.filter(active=True)
    return list(rows.order_by("position", "id").values(*FRAME_FIELDS))


def frame_row(*, frame_id: int) -> dict[str, Any] | None:
    found: dict[str, Any] | None = Frame.objects.filter(pk=frame_id).values(*FRAME_FIELDS).first()
    return found


def ownerships_of(*, member_id: int) -> dict[int, dict[str, Any]]:
    """The member's frames: frame id to its ownership (source, worn, since), one query."""
    return {
        row["frame_id"]: dict(row)
        for row in FrameOwnership.objects.filter(member_id=member_id).values(
            "frame_id", "source", "equipped", "created_at"
        )
    }


def owned_frames(*, member_id: int) -> list[dict[str, Any]]:
    """The member's frames with the frames' fields, oldest first, in one query (a join in this app)."""
    return list(
        FrameOwnership.objects.filter(member_id=member_id)
        .order_by("created_at", "id")
        .values(
            "source",
            "equipped",
            "created_at",
            *(f"frame__{name}" for name in FRAME_FIELDS),
        )
    )


def equipped_rows(*, user_ids: Collection[int]) -> list[tuple[int, int, str, str, str]]:
    """(member id, frame id, name, display key, image type) of the frames worn by ``user_ids``: one query."""
    return list(
        FrameOwnership.objects.filter(member_id__in=list(user_ids), equipped=True).values_list(
            "member_id", "frame_id", "frame__name", "frame__display_key", "frame__image_type"
        )
    )
