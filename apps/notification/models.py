"""Tables of the notification app: notifications, members' choices, what they watch, and dialog
messages waiting to see whether they were read.

Other apps' objects are kept by id (plain integers); the only relation across apps is to the user
model. A member has one notification per thing it is about (``source``): a second event about the same
thing updates that row (reactions, dialog messages) or changes nothing, so an event delivered twice,
or a change that both quotes and mentions someone, never makes two.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.notification.kinds import EmailChannel

SOURCE_MAX_LENGTH = 120
KIND_MAX_LENGTH = 64


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=KIND_MAX_LENGTH)
    # What it is about, unique per recipient: "post:12", "reactions:12", "dialog:5", "grant:3:expiring".
    source = models.CharField(_("about"), max_length=SOURCE_MAX_LENGTH)
    # Who acted, newest first (several when grouped); empty when the system did.
    actor_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, verbose_name=_("actors"))
    count = models.PositiveIntegerField(_("count"), default=1)
    # The kind's own values for its text (a thread's title, a reason, an excerpt): kept as they were.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    thread_id = models.BigIntegerField(_("thread"), null=True, blank=True)
    post_id = models.BigIntegerField(_("post"), null=True, blank=True)
    # Shown on the site (the bell, the page), and how it goes by email.
    on_site = models.BooleanField(_("on the site"), default=True)
    email = models.CharField(_("email"), max_length=10, choices=[(c.value, c.value) for c in EmailChannel])
    # When it was mailed, alone or in a digest; None while it waits (or when no mail is due).
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "source"], name="notification_one_per_source"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-updated_at", "-id"], name="notification_recipient_recent"),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True, on_site=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(email=EmailChannel.DIGEST, emailed_at__isnull=True),
                name="notification_digest_due",
            ),
            models.Index(fields=["thread_id"], name="notification_thread"),
            models.Index(fields=["post_id"], name="notification_post"),
        ]

    def __str__(self) -> str:
        # Named in the admin's titles: load the recipient with the row there.
        return str(_("%(kind)s for %(member)s")) % {"kind": self.kind, "member": self.recipient.username}


class MemberSettings(models.Model):
    """A member's notification settings beyond the per-kind choices; made at sign-up (or first use)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_settings",
        verbose_name=_("member"),
    )
    auto_watch = models.BooleanField(
        _("watch threads I start or reply to"),
        default=True,
        help_text=_("New replies in them are notified."),
    )
    email_enabled = models.BooleanField(_("send me emails"), default=True)
    # The language of emails; empty: the forum's default. No other app keeps a member's language.
    language = models.CharField(_("email language"), max_length=8, blank=True)
    last_digest_on = models.DateField(_("last digest"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return str(_("notification settings of %(member)s")) % {"member": self.user.username}


class Preference(models.Model):
    """A member's choice for one kind; kinds without a row follow the kind's defaults."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=KIND_MAX_LENGTH)
    site = models.BooleanField(_("on the site"))
    email = models.CharField(_("email"), max_length=10, choices=[(c.value, c.value) for c in EmailChannel])

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.user_id}"


class WatchTarget(models.TextChoices):
    THREAD = "thread", _("thread")
    FORUM = "forum", _("forum")


class Watch(models.Model):
    """A member watching a thread (its replies) or a forum (its new threads). An unwatched thread keeps
    its row with ``watching`` off, so that replying to it later does not watch it again by itself."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    target = models.CharField(_("what"), max_length=8, choices=WatchTarget.choices)
    target_id = models.BigIntegerField(_("id"))
    watching = models.BooleanField(_("watching"), default=True)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("watch")
        verbose_name_plural = _("watches")
        constraints = [
            models.UniqueConstraint(fields=["user", "target", "target_id"], name="notification_watch_once")
        ]
        indexes = [
            models.Index(
                fields=["target", "target_id"], condition=Q(watching=True), name="notification_watchers"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.target} {self.target_id}"


class PendingDialogNotice(models.Model):
    """A dialog message a participant may not have seen; after the delay it is checked, and notified
    only if still unseen."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    dialog_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    author_id = models.BigIntegerField()
    excerpt = models.TextField(blank=True)
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "message_id"], name="notification_dialog_notice_once"
            )
        ]
        indexes = [models.Index(fields=["message_id"], name="notification_notice_message")]

    def __str__(self) -> str:
        return f"message {self.message_id} for {self.recipient_id}"
