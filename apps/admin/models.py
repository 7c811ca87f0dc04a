"""Tables of the admin (moderation) app: the staff action log, warning types, warnings and the
escalation rules they trigger, and the restrictions those rules put on a member.

Objects of other apps are kept by kind and id (``target_kind``, ``target_id``), never by a foreign key;
the only relations out of this app go to the user model.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

REASON_MAX_LENGTH = 2_000
LABEL_MAX_LENGTH = 200


class Action(models.TextChoices):
    """Every moderation act the log knows."""

    THREAD_APPROVE = "thread_approve", _("Thread approved")
    THREAD_REJECT = "thread_reject", _("Thread rejected")
    THREAD_CLOSE = "thread_close", _("Thread closed")
    THREAD_REOPEN = "thread_reopen", _("Thread reopened")
    THREAD_MOVE = "thread_move", _("Thread moved")
    THREAD_DELETE = "thread_delete", _("Thread deleted")
    POST_HIDE = "post_hide", _("Post hidden")
    POST_RESTORE = "post_restore", _("Post restored")
    POST_APPROVE = "post_approve", _("Held reply approved")
    POST_REJECT = "post_reject", _("Held reply rejected")
    WARN = "warn", _("Member warned")
    WARNING_REVOKE = "warning_revoke", _("Warning revoked")
    ESCALATE = "escalate", _("Escalation applied")
    RESTRICTION_END = "restriction_end", _("Restriction ended")
    BAN = "ban", _("Member banned")
    BAN_LIFT = "ban_lift", _("Ban lifted")
    ROLE_CHANGE = "role_change", _("Role changed")
    STATUS_GRANT = "status_grant", _("Status granted by staff")
    STATUS_REVOKE = "status_revoke", _("Status revoked by staff")
    REPORT_DISMISS = "report_dismiss", _("Report dismissed")


class ActionLogEntry(models.Model):
    """One moderation act: who did what to which object, why and when. Append-only: the admin has no
    way to change or delete a row, and a database trigger refuses UPDATE and DELETE (migration 0001)."""

    # No database constraint: deleting an account must not touch the log (the trigger would refuse a
    # cascade or SET NULL); the name is kept beside the id for when the account is gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(_("actor's name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=30, choices=Action.choices)
    target_kind = models.CharField(_("target kind"), max_length=30)
    target_id = models.BigIntegerField(_("target id"), null=True, blank=True)
    target_label = models.CharField(_("target"), max_length=LABEL_MAX_LENGTH, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    extra = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("staff action")
        verbose_name_plural = _("staff action log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_kind", "target_id"], name="actionlog_target_idx"),
            models.Index(fields=["action", "-created_at"], name="actionlog_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target_kind} {self.target_id or ''}".strip()


class WarningType(models.Model):
    """A kind of warning staff pick from: its weight, how long it counts and what the member is told."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    points = models.PositiveSmallIntegerField(_("points"), default=1)
    # Empty: the warning counts until revoked.
    expires_after_days = models.PositiveIntegerField(_("days until it expires"), null=True, blank=True)
    message = models.TextField(_("message to the member"), blank=True)
    is_active = models.BooleanField(_("offered to staff"), default=True)

    class Meta:
        verbose_name = _("warning type")
        verbose_name_plural = _("warning types")
        ordering = ["points", "name"]

    def __str__(self) -> str:
        return self.name


class MemberWarning(models.Model):
    """A warning given to a member. It counts its points until ``expires_at`` or until revoked."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    warning_type = models.ForeignKey(
        WarningType, on_delete=models.PROTECT, related_name="warnings", verbose_name=_("type")
    )
    points = models.PositiveSmallIntegerField(_("points"))
    reason = models.TextField(_("reason"), blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    created_at = models.DateTimeField(_("issued"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    # Set by the expiry task once ``expires_at`` passed (the points stop counting at expires_at anyway).
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    revoke_reason = models.TextField(_("why revoked"), blank=True)
    # The report's ticket it was given from, if any.
    ticket_id = models.BigIntegerField(_("ticket"), null=True, blank=True)

    class Meta:
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="warning_member_idx")]

    def __str__(self) -> str:
        return f"{self.warning_type} ({self.points})"


class Sanction(models.TextChoices):
    PREMODERATE = "premoderate", _("New threads and replies wait for a moderator")
    NO_POSTING = "no_posting", _("No posting")
    BAN = "ban", _("Banned (reading only)")


class EscalationRule(models.Model):
    """When a member's active warning points reach ``points``, apply ``sanction`` for ``days``."""

    points = models.PositiveSmallIntegerField(_("active points"), unique=True)
    sanction = models.CharField(_("action"), max_length=20, choices=Sanction.choices)
    # Empty: until lifted by staff (only meaningful for a ban).
    days = models.PositiveIntegerField(_("days"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")
        ordering = ["points"]

    def __str__(self) -> str:
        return f"{self.points}: {self.get_sanction_display()}"


class Restriction(models.Model):
    """A sanction an escalation rule put on a member, with its end (handed to the permission engine)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    sanction = models.CharField(_("action"), max_length=20, choices=Sanction.choices)
    rule = models.ForeignKey(
        EscalationRule, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("rule")
    )
    warning = models.ForeignKey(
        MemberWarning, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("warning")
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("restriction")
        verbose_name_plural = _("restrictions")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return self.get_sanction_display()


class BanKind(models.TextChoices):
    # A posting ban leaves reading (and appeals) to the member; a full ban also ends their sessions and
    # refuses sign-in, so they read only what a guest reads.
    POSTING = "posting", _("Posting ban (reading allowed)")
    FULL = "full", _("Full ban (no sign-in)")


class Ban(models.Model):
    """An account ban given by staff: timed (``ends_at``) or permanent, lifted early or at its end."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=BanKind.choices, default=BanKind.POSTING)
    reason = models.TextField(_("reason"))
    starts_at = models.DateTimeField(_("from"))
    # Empty: permanent (until lifted).
    ends_at = models.DateTimeField(_("until"), null=True, blank=True, db_index=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    # Set when staff lift it early, or by the beat task at its end (then lifted_by stays empty).
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lifted by"),
    )

    class Meta:
        verbose_name = _("ban")
        verbose_name_plural = _("bans")
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["member", "lifted_at"], name="ban_member_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.member_id}"


class EmailBan(models.Model):
    """An address (``someone@example.com``) or a pattern (``*@spam.example``) refused at sign-up and
    email change."""

    pattern = models.CharField(_("address or pattern"), max_length=254, unique=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("added"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        verbose_name = _("email ban")
        verbose_name_plural = _("email bans")
        ordering = ["pattern"]

    def __str__(self) -> str:
        return self.pattern


class AddressBan(models.Model):
    """An IPv4 or IPv6 address or network refused at sign-up and on every write."""

    network = models.CharField(_("address or network"), max_length=64, unique=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("added"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        verbose_name = _("address ban")
        verbose_name_plural = _("address bans")
        ordering = ["network"]

    def __str__(self) -> str:
        return self.network


class BanListVersion(models.Model):
    """One row: bumped on every change to the email or address bans, so that each process reloads its
    kept copy of the lists only when they changed."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.version)


class ModerationQueueEntry(models.Model):
    """No table: the moderation queue's place in the Django admin (its changelist is the queue, made
    of the thread app's pending threads and the support app's open reports, read through their
    services). Unmanaged, so that the admin index lists it like any model."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("moderation queue")
        verbose_name_plural = _("moderation queue")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
