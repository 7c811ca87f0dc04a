"""Published interface of the dialog app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Only participants read or write a dialog; anyone else, staff included, is told that there is no such
dialog (``NotFound``), whatever the id. Who may start dialogs, how many a day and how many members a
group may hold are the permission engine's answers (``dialog.start``, ``dialog.start_per_day``,
``dialog.max_participants``, ``dialog.attachments_max``), so statuses change them.

A member who cannot be written to (they blocked the writer, they accept dialogs only from the people
they follow, their account is closed, or there is no such account) is refused with one and the same
``Forbidden`` (``cannot_message``): the writer learns nothing more.

Every change happens under the dialog's row lock, which orders the messages of a dialog (ids grow in
the order messages commit) and keeps the denormalised counters right: the dialog's last message and
each participant's unread count. Events are published in the same transaction; the app's own handlers
push them to the participants' open tabs (handlers.py).

The functions live in one module per concern (dialogs, groups, messages, reads, attachments,
privacy; the plain data in refs, the checks they share in _common); this package publishes them
under the names callers have always used.
"""

from apps.dialog.services.attachments import (
    attachment_upload,
    attachments_delete_orphans,
    attachments_discard,
    permissions_declare,
)
from apps.dialog.services.dialogs import dialog_group_start, dialog_start
from apps.dialog.services.groups import dialog_leave, dialog_rename, participant_remove, participants_add
from apps.dialog.services.messages import (
    EXCERPT_LENGTH,
    message_create,
    message_delete,
    message_edit,
    message_preview,
    message_preview_new,
)
from apps.dialog.services.privacy import (
    block_add,
    block_exists,
    block_remove,
    dialog_privacy_get,
    dialog_privacy_set,
    dialog_settings_get,
    dialog_settings_set,
)
from apps.dialog.services.reads import (
    MessageBrief,
    dialog_mark_read,
    dialog_topic_allowed,
    message_evidence,
    message_seen,
    unread_dialog_count,
    unread_dialog_count_kept,
)
from apps.dialog.services.refs import (
    AttachmentRef,
    DialogRef,
    DialogSettingsRef,
    MessageRef,
    PrivacyRef,
    ReadRef,
)

__all__ = [
    "EXCERPT_LENGTH",
    "AttachmentRef",
    "DialogRef",
    "DialogSettingsRef",
    "MessageBrief",
    "MessageRef",
    "PrivacyRef",
    "ReadRef",
    "attachment_upload",
    "attachments_delete_orphans",
    "attachments_discard",
    "block_add",
    "block_exists",
    "block_remove",
    "dialog_group_start",
    "dialog_leave",
    "dialog_mark_read",
    "dialog_privacy_get",
    "dialog_privacy_set",
    "dialog_rename",
    "dialog_settings_get",
    "dialog_settings_set",
    "dialog_start",
    "dialog_topic_allowed",
    "message_create",
    "message_delete",
    "message_edit",
    "message_evidence",
    "message_preview",
    "message_preview_new",
    "message_seen",
    "participant_remove",
    "participants_add",
    "permissions_declare",
    "unread_dialog_count",
    "unread_dialog_count_kept",
]
