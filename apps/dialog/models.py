"""Tables of the dialog app: dialogs, their participants with each one's read position, messages,
attachments, blocks between members, and each member's privacy choice.

Counters are denormalised and kept by the services inside the transaction of each change, under the
dialog's row lock: the dialog's last message (for the list's order and preview) and each
participant's unread count (so that the header's badge is one cheap query).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

TITLE_MAX_LENGTH = 100
BODY_MAX_LENGTH = 20_000


class Dialog(models.Model):
    """A private conversation. One-to-one dialogs are unique per pair of members (``pair_key``);
    groups have a title and an owner who adds and removes participants."""

    is_group = models.BooleanField(default=False)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # "<lower id>:<higher id>" for a one-to-one dialog, empty for a group.
    pair_key = models.CharField(max_length=41, blank=True, editable=False)
    created_at = models.DateTimeField()
    # Denormalised: the last message not deleted, and when the dialog last had activity (its order).
    last_message_id = models.BigIntegerField(null=True, blank=True, editable=False)
    last_message_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("dialog")
        verbose_name_plural = _("dialogs")
        constraints = [
            models.UniqueConstraint(
                fields=["pair_key"], condition=Q(is_group=False), name="dialog_one_per_pair"
            )
        ]

    def __str__(self) -> str:
        # Never the title: the admin shows metadata only.
        return f"dialog {self.pk}"


class Participant(models.Model):
    """A member in a dialog, how far they have read it, and how many messages wait for them."""

    dialog = models.ForeignKey(Dialog, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField()
    # The highest message id seen (0: none); never moves back.
    last_read_message_id = models.BigIntegerField(default=0)
    # Messages of others after the read position, not deleted.
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [models.UniqueConstraint(fields=["dialog", "user"], name="participant_dialog_user")]
        indexes = [models.Index(fields=["user", "unread_count"], name="participant_user_unread")]

    def __str__(self) -> str:
        # Named in the admin (the dialog's page lists its participants: load the member with the row).
        return str(_("%(member)s in dialog %(dialog)d")) % {
            "member": self.user.username,
            "dialog": self.dialog_id,
        }


class Message(models.Model):
    dialog = models.ForeignKey(Dialog, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    body_html = models.TextField()
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    # A deleted message keeps its row (ids and read positions stay meaningful) but not its words.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dialog", "id"]
        indexes = [models.Index(fields=["dialog", "id"], name="message_dialog_id")]

    def __str__(self) -> str:
        return f"message {self.pk} in dialog {self.dialog_id}"


# Uploads of one member in one dialog not yet on a message: enough for a message being written.
PENDING_ATTACHMENTS_MAX = 10


class MessageAttachment(models.Model):
    """A file on a message (forum.uploads stored it). Uploaded into a dialog first, then attached
    when the message is written: until then ``message`` is empty and the file is its uploader's alone."""

    dialog = models.ForeignKey(Dialog, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    storage_key = models.CharField(max_length=255)
    thumbnail_key = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["uploader", "dialog", "message"], name="dialog_attachment_pending")]

    def __str__(self) -> str:
        return f"attachment {self.pk}"


class Block(models.Model):
    """``user`` blocked ``blocked``: no new dialog and no message from ``blocked`` reaches ``user``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.UniqueConstraint(fields=["user", "blocked"], name="block_user_blocked"),
            models.CheckConstraint(condition=~Q(user=models.F("blocked")), name="block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "user"], name="block_blocked_user")]

    def __str__(self) -> str:
        return str(_("%(member)s blocks %(blocked)s")) % {
            "member": self.user.username,
            "blocked": self.blocked.username,
        }


class Privacy(models.Model):
    """A member's dialog settings: who may start dialogs with them, and how the message box behaves.
    No row means the defaults (everyone may write; Enter starts a new line)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # Only the people the member follows (and staff) may start a dialog with them or add them to one.
    followed_only = models.BooleanField(default=False)
    # Enter sends the message (Shift+Enter starts a new line); otherwise Enter is a new line and
    # Ctrl+Enter sends. Read by the dialog page's script (static/dialog/enter-sends.js).
    enter_sends = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("dialog privacy")
        verbose_name_plural = _("dialog privacy")

    def __str__(self) -> str:
        return f"privacy of {self.user_id}"
