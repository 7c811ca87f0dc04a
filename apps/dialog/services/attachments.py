"""Attachments: the app's own permission, uploads waiting for a message, discarding, orphans."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authorization.services import (
    Permission,
    limit,
    permission_declare,
)
from apps.dialog import selectors
from apps.dialog.models import (
    PENDING_ATTACHMENTS_MAX,
    MessageAttachment,
)
from apps.dialog.services._common import _no_such_dialog
from apps.dialog.services.refs import AttachmentRef
from forum.errors import Forbidden
from forum.uploads import delete_unclaimed, delete_waiting, store_waiting_upload


def permissions_declare() -> None:
    """The dialog app's own permission (the others are declared with the registry); from ready()."""
    permission_declare(
        Permission.limit(
            "dialog.attachments_max",
            gettext_lazy("Attachments on one message"),
            user=5,
            support=10,
        )
    )


# --- Attachments --------------------------------------------------------------------------------------


def _attachment_ref(row: MessageAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        dialog_id=row.dialog_id,
        message_id=row.message_id,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_upload(
    *, uploader_id: int, dialog_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a message being written in a dialog one takes part in (the kernel checks type
    and size and strips metadata); it is the uploader's alone until a message takes it by id. At most
    PENDING_ATTACHMENTS_MAX uploads wait per member and dialog."""
    if not selectors.is_participant(user_id=uploader_id, dialog_id=dialog_id):
        raise _no_such_dialog()
    if limit(user_id=uploader_id, permission="dialog.attachments_max") == 0:
        raise Forbidden(_("You may not attach files."), code="attachments_not_allowed")
    row = store_waiting_upload(
        file,
        field_name=field_name,
        waiting=MessageAttachment.objects.filter(
            uploader_id=uploader_id, dialog_id=dialog_id, message__isnull=True
        ),
        most_waiting=PENDING_ATTACHMENTS_MAX,
        too_many=_("Too many uploads are waiting for a message (%(count)d); send or discard them first."),
        keep=lambda fields: MessageAttachment.objects.create(
            dialog_id=dialog_id, uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(
    *, uploader_id: int, attachment_ids: Sequence[int], dialog_id: int | None = None
) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no message took (only those waiting
    in ``dialog_id`` when it is given); their files go after the commit. Returns how many were deleted."""
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    waiting = MessageAttachment.objects.filter(pk__in=wanted, uploader_id=uploader_id, message__isnull=True)
    if dialog_id is not None:
        waiting = waiting.filter(dialog_id=dialog_id)
    return delete_waiting(waiting)


# Uploads deleted per transaction by ``attachments_delete_orphans``.
ORPHAN_BATCH_SIZE = 100


def attachments_delete_orphans(
    *, older_than: datetime.timedelta | None = None, batch_size: int = ORPHAN_BATCH_SIZE
) -> int:
    """Delete uploads that no message took within ``older_than`` (DIALOG_UPLOAD_ORPHAN_HOURS by
    default), rows and files, ``batch_size`` at a time (``forum.uploads.delete_unclaimed``); returns
    how many went."""
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.DIALOG_UPLOAD_ORPHAN_HOURS))
    unclaimed = MessageAttachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    return delete_unclaimed(unclaimed, batch_size=batch_size)
