"""Messages written on tickets and the files attached to them."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import require
from apps.support import selectors
from apps.support.models import (
    ATTACHMENTS_PER_MESSAGE_MAX,
    BODY_MAX_LENGTH,
    PENDING_ATTACHMENTS_MAX,
    Ticket,
    TicketAttachment,
    TicketMessage,
)
from forum.errors import ValidationFailed
from forum.markup import render
from forum.uploads import delete_unclaimed, delete_waiting, store_waiting_upload

from ._common import TICKET_PERMISSION
from .data import AttachmentRef

# --- Messages and their files ------------------------------------------------------------------------


def _attachment_ids_check(attachment_ids: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(attachment_ids))
    if len(unique) > ATTACHMENTS_PER_MESSAGE_MAX:
        message = ngettext(
            "At most %(count)d attachment on one message.",
            "At most %(count)d attachments on one message.",
            ATTACHMENTS_PER_MESSAGE_MAX,
        ) % {"count": ATTACHMENTS_PER_MESSAGE_MAX}
        raise ValidationFailed(message, code="too_many_attachments", fields={"attachment_ids": [message]})
    return unique


def _attach(author_id: int, ticket: Ticket, message: TicketMessage, attachment_ids: Sequence[int]) -> None:
    if not attachment_ids:
        return
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    mine = TicketAttachment.objects.select_for_update().filter(
        pk__in=wanted, uploader_id=author_id, message__isnull=True
    )
    if len(mine.values_list("pk", flat=True)) != len(attachment_ids):
        message_text = _("An attachment is not one of your uploads waiting for a message.")
        raise ValidationFailed(
            message_text, code="attachment_unknown", fields={"attachment_ids": [message_text]}
        )
    TicketAttachment.objects.filter(pk__in=wanted).update(message=message, ticket=ticket)


def _write(
    ticket: Ticket,
    *,
    author_id: int,
    body: str,
    internal: bool,
    attachment_ids: Sequence[int],
    now: datetime.datetime,
) -> TicketMessage:
    rendered = render(body, max_length=BODY_MAX_LENGTH)
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_id=author_id,
        internal=internal,
        body=body,
        body_html=rendered.html,
        created_at=now,
    )
    _attach(author_id, ticket, message, attachment_ids)
    return message


# --- Attachments ----------------------------------------------------------------------------------------


def _attachment_ref(row: TicketAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_upload(
    *, uploader_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a ticket message being written (forum.uploads: type and size checked, metadata
    stripped, private storage); it is the uploader's alone until a message takes it by id. At most
    PENDING_ATTACHMENTS_MAX wait per member."""
    if not (selectors.is_staff(uploader_id)):
        require(user_id=uploader_id, permission=TICKET_PERMISSION)
    row = store_waiting_upload(
        file,
        field_name=field_name,
        waiting=TicketAttachment.objects.filter(uploader_id=uploader_id, message__isnull=True),
        most_waiting=PENDING_ATTACHMENTS_MAX,
        too_many=_("Too many uploads are waiting for a message (%(count)d); send or discard them first."),
        keep=lambda fields: TicketAttachment.objects.create(
            uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(*, uploader_id: int, attachment_ids: Sequence[int]) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no message took; files after the commit."""
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    return delete_waiting(
        TicketAttachment.objects.filter(pk__in=wanted, uploader_id=uploader_id, message__isnull=True)
    )


def attachments_delete_orphans(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete uploads no message took within SUPPORT_UPLOAD_ORPHAN_HOURS, rows and files (hourly)."""
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.SUPPORT_UPLOAD_ORPHAN_HOURS))
    unclaimed = TicketAttachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    return delete_unclaimed(unclaimed)
