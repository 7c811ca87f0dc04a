"""Subscribers of the notification app to other apps' events (and to its own email requests).

Each runs in the transaction in which the bus records the event as handled (so at most once per
event), and calls only this app's services. The one exception to "notify now" is a dialog message:
its recipients are remembered, and a task scheduled after the commit checks, once
``NOTIFICATION_DIALOG_DELAY_SECONDS`` have passed, whether they saw it.
"""

from __future__ import annotations

import functools
import logging

from celery import current_app
from django.conf import settings
from django.db import transaction

from apps.authentication.events import AccountCreated
from apps.dialog.events import DialogMessageCreated, DialogMessageDeleted, DialogRead
from apps.notification import services
from apps.notification.events import (
    NotificationEmailsRequested,
    NotificationRequested,
    NotificationsPushRequested,
)
from apps.status.events import StatusGranted
from apps.thread.events import (
    PostApproved,
    PostCreated,
    PostDeleted,
    PostEdited,
    PostRejected,
    ReactionAdded,
    ReactionCleared,
    ThreadApproved,
    ThreadDeleted,
    ThreadRejected,
)
from forum.bus import subscribe
from forum.errors import ValidationFailed

logger = logging.getLogger(__name__)

# Declared in tasks.py; sent by name, since handlers and tasks are independent entry points.
DIALOG_CHECK_TASK = "notification.dialog_notices_check"


@subscribe(PostCreated, name="notification.on_post_created")
def on_post_created(event: PostCreated) -> None:
    services.post_created_notify(
        post_id=event.post_id,
        thread_id=event.thread_id,
        forum_id=event.forum_id,
        author_id=event.author_id,
        position=event.position,
        mentioned_ids=event.mentioned_ids,
        quoted_ids=event.quoted_ids,
    )


@subscribe(PostEdited, name="notification.on_post_edited")
def on_post_edited(event: PostEdited) -> None:
    services.post_edited_notify(
        post_id=event.post_id,
        thread_id=event.thread_id,
        author_id=event.author_id,
        editor_id=event.editor_id,
        mentioned_ids=event.mentioned_ids,
    )


@subscribe(PostDeleted, name="notification.on_post_deleted")
def on_post_deleted(event: PostDeleted) -> None:
    services.post_deleted_forget(post_id=event.post_id)


@subscribe(ThreadDeleted, name="notification.on_thread_deleted")
def on_thread_deleted(event: ThreadDeleted) -> None:
    services.thread_deleted_forget(thread_id=event.thread_id)


@subscribe(ReactionAdded, name="notification.on_reaction_added")
def on_reaction_added(event: ReactionAdded) -> None:
    services.reaction_added_notify(
        post_id=event.post_id,
        thread_id=event.thread_id,
        post_author_id=event.post_author_id,
        reactor_id=event.reactor_id,
        kind=event.kind,
    )


@subscribe(ReactionCleared, name="notification.on_reaction_cleared")
def on_reaction_cleared(event: ReactionCleared) -> None:
    services.reaction_cleared_forget(
        post_id=event.post_id, post_author_id=event.post_author_id, reactor_id=event.reactor_id
    )


@subscribe(ThreadApproved, name="notification.on_thread_approved")
def on_thread_approved(event: ThreadApproved) -> None:
    services.thread_moderated_notify(
        thread_id=event.thread_id, author_id=event.author_id, moderator_id=event.approved_by, approved=True
    )


@subscribe(ThreadRejected, name="notification.on_thread_rejected")
def on_thread_rejected(event: ThreadRejected) -> None:
    services.thread_moderated_notify(
        thread_id=event.thread_id,
        author_id=event.author_id,
        moderator_id=event.rejected_by,
        approved=False,
        reason=event.reason,
    )


@subscribe(PostApproved, name="notification.on_post_approved")
def on_post_approved(event: PostApproved) -> None:
    services.post_moderated_notify(
        post_id=event.post_id,
        thread_id=event.thread_id,
        author_id=event.author_id,
        moderator_id=event.approved_by,
        approved=True,
    )


@subscribe(PostRejected, name="notification.on_post_rejected")
def on_post_rejected(event: PostRejected) -> None:
    services.post_moderated_notify(
        post_id=event.post_id,
        thread_id=event.thread_id,
        author_id=event.author_id,
        moderator_id=event.rejected_by,
        approved=False,
        reason=event.reason,
    )


@subscribe(StatusGranted, name="notification.on_status_granted")
def on_status_granted(event: StatusGranted) -> None:
    services.status_granted_notify(
        grant_id=event.grant_id,
        user_id=event.user_id,
        status_code=event.status_code,
        ends_at=event.ends_at,
        granted_by=event.granted_by,
        starts_at=event.starts_at,
    )


@subscribe(DialogMessageCreated, name="notification.on_dialog_message_created")
def on_dialog_message_created(event: DialogMessageCreated) -> None:
    recipients = services.dialog_message_pending(
        dialog_id=event.dialog_id,
        message_id=event.message_id,
        author_id=event.author_id,
        recipient_ids=event.recipient_ids,
        excerpt=event.excerpt,
    )
    if recipients:
        # If this send is lost (the broker down at that moment), the sweep delivers the notices.
        transaction.on_commit(
            functools.partial(
                current_app.send_task,
                DIALOG_CHECK_TASK,
                args=[event.message_id],
                countdown=float(settings.NOTIFICATION_DIALOG_DELAY_SECONDS),
            ),
            robust=True,
        )


@subscribe(DialogRead, name="notification.on_dialog_read")
def on_dialog_read(event: DialogRead) -> None:
    services.dialog_read_forget(user_id=event.user_id, dialog_id=event.dialog_id, message_id=event.message_id)


@subscribe(DialogMessageDeleted, name="notification.on_dialog_message_deleted")
def on_dialog_message_deleted(event: DialogMessageDeleted) -> None:
    services.dialog_message_deleted_forget(message_id=event.message_id)


@subscribe(AccountCreated, name="notification.on_account_created")
def on_account_created(event: AccountCreated) -> None:
    services.member_settings_create(user_id=event.user_id)


@subscribe(NotificationRequested, name="notification.on_notification_requested")
def on_notification_requested(event: NotificationRequested) -> None:
    try:
        services.notification_request(
            kind=event.kind,
            recipient_ids=event.recipient_ids,
            source=event.source,
            actor_id=event.actor_id,
            params=event.params,
        )
    except ValidationFailed as error:  # an unknown kind or source: trying again would not help
        logger.error(
            "notification request refused",
            extra={"kind": event.kind, "error": error.message, "fields": error.fields},
        )


@subscribe(NotificationEmailsRequested, name="notification.on_emails_requested")
def on_emails_requested(event: NotificationEmailsRequested) -> None:
    services.notification_emails_send(notification_ids=event.notification_ids)


@subscribe(NotificationsPushRequested, name="notification.on_push_requested")
def on_push_requested(event: NotificationsPushRequested) -> None:
    services.notifications_push(frames=event.frames)
