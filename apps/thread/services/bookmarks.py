"""Bookmarks: posts a member keeps, with a note."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.thread import selectors
from apps.thread.models import (
    BOOKMARK_NOTE_MAX_LENGTH,
    Bookmark,
    ThreadState,
)
from forum.errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class BookmarkRef:
    post_id: int
    note: str
    created_at: datetime.datetime


def _post_to_bookmark(user_id: int, post_id: int, *, keeping: bool) -> None:
    """Refuse a post the member may not see (404, as for one that does not exist); to keep one, its
    thread must also be public (409 ``thread_pending``): the list shows nothing else."""
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
    if location is None or location.hidden_from(viewer):
        raise NotFound(_("There is no such post."))
    if keeping and location.held:
        raise Conflict(_("The post awaits approval."), code="post_held")
    thread = selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False)
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        raise NotFound(_("There is no such post."))
    if keeping and thread.state != ThreadState.APPROVED:
        raise Conflict(_("The thread awaits moderation."), code="thread_pending")


def _clean_note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > BOOKMARK_NOTE_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BOOKMARK_NOTE_MAX_LENGTH
        ) % {"count": BOOKMARK_NOTE_MAX_LENGTH}
        raise ValidationFailed(message, fields={"note": [message]})
    return note


def bookmark_set(*, user_id: int, post_id: int, note: str | None = None) -> BookmarkRef:
    """Keep a post the member may see, once, with a short note of theirs (at most
    BOOKMARK_NOTE_MAX_LENGTH characters); on a post kept already, change the note. ``note`` None
    leaves the note as it is (empty on a new bookmark)."""
    cleaned = None if note is None else _clean_note(note)
    _post_to_bookmark(user_id, post_id, keeping=True)
    with transaction.atomic():
        bookmark, created = Bookmark.objects.get_or_create(
            user_id=user_id, post_id=post_id, defaults={"note": cleaned or "", "created_at": timezone.now()}
        )
        if not created and cleaned is not None and cleaned != bookmark.note:
            bookmark.note = cleaned
            bookmark.save(update_fields=["note"])
    return BookmarkRef(post_id=post_id, note=bookmark.note, created_at=bookmark.created_at)


def bookmark_remove(*, user_id: int, post_id: int) -> None:
    """Stop keeping a post (nothing happens when it is not kept); 404 for a post the member may not see."""
    _post_to_bookmark(user_id, post_id, keeping=False)
    Bookmark.objects.filter(user_id=user_id, post_id=post_id).delete()
