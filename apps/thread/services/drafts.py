"""Drafts: what a member is writing, kept until it is sent or thrown away."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.thread import selectors
from apps.thread.models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Draft,
    ThreadState,
)
from forum.errors import NotFound, ValidationFailed


@dataclass(frozen=True)
class DraftRef:
    """What a member is writing: a reply in ``thread_id`` (no title) or a new thread in ``forum_id``."""

    thread_id: int | None
    forum_id: int | None
    title: str
    body: str
    updated_at: datetime.datetime


def _draft_target(user_id: int, thread_id: int | None, forum_id: int | None, *, writing: bool) -> None:
    """Refuse a draft's target the member may not see, or, to write one, may not post in (404 both:
    a draft is only for where the member could send it)."""
    if (thread_id is None) == (forum_id is None):
        raise ValidationFailed(
            _("A draft is of a reply in a thread or of a new thread in a forum."), code="draft_target"
        )
    viewer = selectors.viewer_for(user_id=user_id)
    forums = selectors.forums_visible(viewer=viewer)
    if thread_id is not None:
        thread = (
            selectors.thread_row(viewer=viewer, thread_id=thread_id, with_names=False)
            if 0 < thread_id < 2**63
            else None
        )
        forum = None if thread is None else forums.get(thread.forum_id)
        if thread is None or forum is None:
            raise NotFound(_("There is no such thread."))
        may_post = (
            viewer.can("post.create")
            and viewer.can(forum.post_permission)
            and thread.state == ThreadState.APPROVED
            and (not thread.closed or viewer.moderator)
        )
    else:
        assert forum_id is not None
        found = forums.get(forum_id) if 0 < forum_id < 2**63 else None
        if found is None:
            raise NotFound(_("There is no such forum."))
        may_post = not found.is_category and viewer.can("thread.create") and viewer.can(found.post_permission)
    if writing and not may_post:
        raise NotFound(_("You may not post here."), code="cannot_post")


def _draft_texts(title: str, body: str, *, reply: bool) -> None:
    """The limits of a post and of a title; a reply has no title."""
    problems: dict[str, list[str]] = {}
    if reply and title.strip():
        problems["title"] = [_("A reply has no title.")]
    elif len(title) > TITLE_MAX_LENGTH:
        problems["title"] = [
            ngettext("At most %(count)d character.", "At most %(count)d characters.", TITLE_MAX_LENGTH)
            % {"count": TITLE_MAX_LENGTH}
        ]
    if len(body) > BODY_MAX_LENGTH:
        problems["body"] = [
            ngettext("At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH)
            % {"count": BODY_MAX_LENGTH}
        ]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)


def _drafts_discard(user_id: int, *, thread_id: int | None = None, forum_id: int | None = None) -> None:
    if thread_id is not None:
        Draft.objects.filter(user_id=user_id, thread_id=thread_id).delete()
    elif forum_id is not None:
        Draft.objects.filter(user_id=user_id, forum_id=forum_id).delete()


def draft_save(
    *,
    user_id: int,
    thread_id: int | None = None,
    forum_id: int | None = None,
    title: str = "",
    body: str = "",
) -> DraftRef | None:
    """Keep what the member is writing, as it is, in place of what was kept before: a reply in a
    thread they may reply in, or a new thread in a forum they may start threads in (404 otherwise).
    Nothing written (title and body blank) deletes the draft and returns None. The limits are a
    post's and a title's (400); sending the post or thread deletes its draft."""
    _draft_texts(title, body, reply=thread_id is not None)
    _draft_target(user_id, thread_id, forum_id, writing=True)
    if not title.strip() and not body.strip():
        _drafts_discard(user_id, thread_id=thread_id, forum_id=forum_id)
        return None
    # One of the two is set (_draft_target checked); the other stays empty on a new row.
    target = {"thread_id": thread_id} if thread_id is not None else {"forum_id": forum_id}
    with transaction.atomic():
        draft, _created = Draft.objects.update_or_create(
            user_id=user_id,
            **target,
            defaults={"title": title, "body": body, "updated_at": timezone.now()},
        )
    return DraftRef(
        thread_id=thread_id,
        forum_id=forum_id,
        title=draft.title,
        body=draft.body,
        updated_at=draft.updated_at,
    )


def draft_get(*, user_id: int, thread_id: int | None = None, forum_id: int | None = None) -> DraftRef | None:
    """The member's draft in a thread or forum they may see (404 otherwise), or None. It stays theirs
    to read when they may no longer post there (a thread closed since), so that nothing is lost."""
    _draft_target(user_id, thread_id, forum_id, writing=False)
    row = selectors.draft_of(user_id=user_id, thread_id=thread_id, forum_id=forum_id)
    if row is None:
        return None
    return DraftRef(
        thread_id=row.thread_id,
        forum_id=row.forum_id,
        title=row.title,
        body=row.body,
        updated_at=row.updated_at,
    )


def draft_delete(*, user_id: int, thread_id: int | None = None, forum_id: int | None = None) -> None:
    """Throw the member's draft away (nothing happens when there is none); 404 as for ``draft_get``."""
    _draft_target(user_id, thread_id, forum_id, writing=False)
    _drafts_discard(user_id, thread_id=thread_id, forum_id=forum_id)


def drafts_delete_stale() -> int:
    """Delete the drafts nobody touched for THREAD_DRAFT_MAX_AGE_DAYS (the periodic task); how many."""
    cutoff = timezone.now() - datetime.timedelta(days=float(settings.THREAD_DRAFT_MAX_AGE_DAYS))
    deleted, _by_model = Draft.objects.filter(updated_at__lt=cutoff).delete()
    return int(deleted)
