"""Published interface of the notification app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

The app is fed by other apps' events (handlers.py). Every notification goes through ``_deliver``:
the recipients are filtered by what they may see (asked of the owning app, in one call for all of
them), the actor is never told of their own act, each member's choices decide the channels, and the
rows are written in one insert, unique per (member, the thing it is about), so that an event handled
twice or a change that both quotes and mentions someone makes one notification. After the commit each
member with something new gets one ``notification.new`` frame on their sockets.

Another app adds a kind without this app changing: ``notification_kind_register`` from its
``AppConfig.ready``, then ``NotificationRequested`` published in its own transactions.

The functions live in one module per concern (delivery, kind_registry, thread_events, status_events,
dialog_events, reads, preferences, watching, emails; the plain data in data, what several share in
_common); this package publishes them under the names callers have always used.
"""

from __future__ import annotations

from apps.notification.kinds import (
    EmailChannel,
    Grouping,
    NotificationFacts,
    NotificationKind,
)
from apps.notification.services.data import (
    KindInfo,
    KindPreference,
    MemberPreferences,
    NotificationItem,
    NotificationPage,
    Unsubscribe,
    WatchItem,
    WatchList,
)
from apps.notification.services.delivery import NEW_FRAME as NEW_FRAME
from apps.notification.services.delivery import READ_FRAME as READ_FRAME
from apps.notification.services.delivery import notifications_push, unread_count_kept
from apps.notification.services.dialog_events import (
    dialog_message_deleted_forget,
    dialog_message_pending,
    dialog_notices_deliver,
    dialog_notices_sweep,
    dialog_read_forget,
)
from apps.notification.services.emails import ALL_EMAILS as ALL_EMAILS
from apps.notification.services.emails import (
    digests_send,
    notification_emails_send,
    unsubscribe_apply,
    unsubscribe_read,
    unsubscribe_token,
)
from apps.notification.services.kind_registry import (
    notification_kind_register,
    notification_kind_unregister,
    notification_kinds,
    notification_request,
)
from apps.notification.services.preferences import (
    member_settings_create,
    preferences_get,
    preferences_update,
)
from apps.notification.services.reads import LATEST_COUNT as LATEST_COUNT
from apps.notification.services.reads import PER_PAGE as PER_PAGE
from apps.notification.services.reads import (
    notification_mark_read,
    notification_open,
    notifications_latest,
    notifications_mark_all_read,
    notifications_page,
    unread_count,
)
from apps.notification.services.status_events import (
    status_granted_notify,
    statuses_expiring_notify,
)
from apps.notification.services.thread_events import (
    post_created_notify,
    post_deleted_forget,
    post_edited_notify,
    post_moderated_notify,
    reaction_added_notify,
    reaction_cleared_forget,
    thread_deleted_forget,
    thread_moderated_notify,
)
from apps.notification.services.watching import (
    watch_list,
    watch_set,
    watch_state,
    watch_target_check,
    watch_unset,
    watched_among,
)

__all__ = [
    "EmailChannel",
    "Grouping",
    "KindInfo",
    "KindPreference",
    "MemberPreferences",
    "NotificationFacts",
    "NotificationItem",
    "NotificationKind",
    "NotificationPage",
    "Unsubscribe",
    "WatchItem",
    "WatchList",
    "dialog_message_deleted_forget",
    "dialog_message_pending",
    "dialog_notices_deliver",
    "dialog_notices_sweep",
    "dialog_read_forget",
    "digests_send",
    "member_settings_create",
    "notification_emails_send",
    "notification_kind_register",
    "notification_kind_unregister",
    "notification_kinds",
    "notification_mark_read",
    "notification_open",
    "notification_request",
    "notifications_latest",
    "notifications_mark_all_read",
    "notifications_page",
    "notifications_push",
    "post_created_notify",
    "post_deleted_forget",
    "post_edited_notify",
    "post_moderated_notify",
    "preferences_get",
    "preferences_update",
    "reaction_added_notify",
    "reaction_cleared_forget",
    "status_granted_notify",
    "statuses_expiring_notify",
    "thread_deleted_forget",
    "thread_moderated_notify",
    "unread_count",
    "unread_count_kept",
    "unsubscribe_apply",
    "unsubscribe_read",
    "unsubscribe_token",
    "watch_list",
    "watch_set",
    "watch_state",
    "watch_target_check",
    "watch_unset",
    "watched_among",
]
