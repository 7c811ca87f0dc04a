"""Attachments of posts: uploads waiting for a post, putting them on posts and taking them off, orphans."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import limit, require
from apps.thread.models import (
    PENDING_ATTACHMENTS_MAX,
    PostAttachment,
)
from forum.errors import Forbidden, NotFound, ValidationFailed
from forum.uploads import delete_unclaimed, delete_upload, delete_waiting, store_waiting_upload


@dataclass(frozen=True)
class AttachmentRef:
    id: int
    post_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool


def _attachment_ref(row: PostAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        post_id=row.post_id,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_count_check(*, user_id: int, attachment_ids: Sequence[int]) -> tuple[int, ...]:
    """The ids without repeats, or ValidationFailed (``too_many_attachments``) when they are more than
    the member's ``post.attachments_max``."""
    unique = tuple(dict.fromkeys(attachment_ids))
    if not unique:
        return unique
    most = limit(user_id=user_id, permission="post.attachments_max")
    if most is not None and len(unique) > most:
        message = ngettext(
            "At most %(count)d attachment on one post.", "At most %(count)d attachments on one post.", most
        ) % {"count": most}
        raise ValidationFailed(message, code="too_many_attachments", fields={"attachment_ids": [message]})
    return unique


def _attach(author_id: int, post_id: int, attachment_ids: Sequence[int]) -> None:
    """Put the author's pending uploads on a new post (inside its transaction); anything else among
    ``attachment_ids`` (another member's, on a post already, unknown) refuses the whole post."""
    if not attachment_ids:
        return
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    mine = PostAttachment.objects.select_for_update().filter(
        pk__in=wanted, uploader_id=author_id, post__isnull=True
    )
    if len(mine.values_list("pk", flat=True)) != len(attachment_ids):
        message = _("An attachment is not one of your uploads waiting for a post.")
        raise ValidationFailed(message, code="attachment_unknown", fields={"attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=wanted).update(post_id=post_id)


def _attachment_ids_clean(attachment_ids: Sequence[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(attachment_ids))


# What PostEdit keeps of each attachment an edit added or removed: the removed ones' rows are gone.
_AttachmentTrace = dict[str, int | str]


def _attach_to_edited(editor_id: int, post_id: int, attachment_ids: Sequence[int]) -> list[_AttachmentTrace]:
    """Put the editor's pending uploads on a post being edited (inside its transaction, under the
    post's lock). Anything else among ``attachment_ids`` refuses the whole edit with a 404: another
    member's upload is not shown to exist."""
    if not attachment_ids:
        return []
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    rows = list(
        PostAttachment.objects.select_for_update()
        .filter(pk__in=wanted, uploader_id=editor_id, post__isnull=True)
        .order_by("pk")
        .values_list("pk", "original_name")
    )
    if len(rows) != len(attachment_ids):
        message = _("An attachment is not one of your uploads waiting for a post.")
        raise NotFound(message, code="attachment_unknown", fields={"attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=wanted).update(post_id=post_id)
    return [{"id": pk, "name": name} for pk, name in rows]


def _detach(post_id: int, attachment_ids: Sequence[int]) -> list[_AttachmentTrace]:
    """Delete attachments of a post (inside its transaction, under the post's lock); their files go
    after the commit. An id that is not on this post refuses the whole edit with a 404."""
    if not attachment_ids:
        return []
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    rows = list(
        PostAttachment.objects.select_for_update()
        .filter(pk__in=wanted, post_id=post_id)
        .order_by("pk")
        .values_list("pk", "original_name", "storage_key", "thumbnail_key")
    )
    if len(rows) != len(attachment_ids):
        message = _("There is no such attachment on this post.")
        raise NotFound(message, code="attachment_unknown", fields={"remove_attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=[row[0] for row in rows]).delete()
    for _pk, _name, key, thumbnail in rows:
        # robust: storage that fails now leaves a file behind (logged), never a 500 for a committed edit.
        transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)
    return [{"id": pk, "name": name} for pk, name, _key, _thumbnail in rows]


def attachment_upload(
    *, uploader_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a post still being written (the kernel checks type and size and strips
    metadata); it stays the uploader's alone until a post takes it by id. Members who may post and
    attach files only, with at most PENDING_ATTACHMENTS_MAX uploads waiting at once."""
    require(user_id=uploader_id, permission="post.create")
    if limit(user_id=uploader_id, permission="post.attachments_max") == 0:
        raise Forbidden(_("You may not attach files."), code="attachments_not_allowed")
    row = store_waiting_upload(
        file,
        field_name=field_name,
        waiting=PostAttachment.objects.filter(uploader_id=uploader_id, post__isnull=True),
        most_waiting=PENDING_ATTACHMENTS_MAX,
        too_many=_("Too many uploads are waiting for a post (%(count)d); post or discard them first."),
        keep=lambda fields: PostAttachment.objects.create(
            uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(*, uploader_id: int, attachment_ids: Sequence[int]) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no post took; their files go after
    the commit. Returns how many were deleted."""
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    return delete_waiting(
        PostAttachment.objects.filter(pk__in=wanted, uploader_id=uploader_id, post__isnull=True)
    )


# Uploads deleted per transaction by ``attachments_delete_orphans``.
ORPHAN_BATCH_SIZE = 100


def attachments_delete_orphans(
    *, older_than: datetime.timedelta | None = None, batch_size: int = ORPHAN_BATCH_SIZE
) -> int:
    """Delete uploads that no post took within ``older_than`` (THREAD_UPLOAD_ORPHAN_HOURS by default),
    rows and files (thumbnails too), ``batch_size`` at a time. Returns how many went.

    Only uploads without a post: a soft-deleted post keeps its attachments for the moderators. How
    the batches go (locked rows skipped, files before rows) is ``forum.uploads.delete_unclaimed``.
    """
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.THREAD_UPLOAD_ORPHAN_HOURS))
    unclaimed = PostAttachment.objects.filter(post__isnull=True, created_at__lt=timezone.now() - older_than)
    return delete_unclaimed(unclaimed, batch_size=batch_size)
