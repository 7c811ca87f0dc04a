"""The user app's search documents: members, found by username and full name (forum.search).

A member document's title is the username (what pages show), its body the full name when the
account has one; both are matched by prefix and, forgiving typos, by trigram similarity. A
deactivated account stays indexed but is found by staff only (``visible`` False).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse

from forum.search.base import KIND_MEMBER, Document, DocumentSource, detect_language, refresh, register_source

APP = "user"
_FIELDS = ("pk", "username", "first_name", "last_name", "is_active", "date_joined", "last_login")


def _document(row: Mapping[str, Any]) -> Document:
    full_name = " ".join(f"{row['first_name']} {row['last_name']}".split())
    return Document(
        kind=KIND_MEMBER,
        id=row["pk"],
        app=APP,
        title=row["username"],
        body=full_name,
        author_id=row["pk"],
        created_at=row["date_joined"],
        updated_at=row["date_joined"],
        language=detect_language(f"{row['username']} {full_name}"),
        url=reverse("user:profile", args=[row["pk"]]),
        visible=bool(row["is_active"]),
    )


def _fetch(ids: Sequence[int]) -> Mapping[int, Document | None]:
    found: dict[int, Document | None] = dict.fromkeys(ids)
    for row in get_user_model().objects.filter(pk__in=list(ids)).values(*_FIELDS):
        found[row["pk"]] = _document(row)
    return found


def _batches(size: int) -> Iterator[Sequence[Document]]:
    last = 0
    users = get_user_model().objects
    while True:
        rows = list(users.filter(pk__gt=last).order_by("pk").values(*_FIELDS)[:size])
        if not rows:
            return
        last = rows[-1]["pk"]
        yield [_document(row) for row in rows]


def register() -> None:
    """Hand the kernel's search the member documents (UserConfig.ready)."""
    register_source(
        DocumentSource(
            kind=KIND_MEMBER,
            app=APP,
            batches=_batches,
            fetch=_fetch,
            count=lambda: get_user_model().objects.count(),
        )
    )


def refresh_member(user_id: int) -> None:
    refresh(KIND_MEMBER, [user_id])
