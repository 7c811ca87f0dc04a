"""Tables of the status app: the catalogue of statuses and the grants of statuses to members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# The seeded statuses' texts are stored in English and translated when shown; marked here so that
# makemessages puts them in the catalogue (the data migration cannot be scanned for them).
SEEDED_TEXTS = (
    gettext_noop("Agent"),
    gettext_noop("Reads the exclusive sections and may open more threads a day."),
    gettext_noop("Reader"),
    gettext_noop(
        "Reads the sections for Readers and takes a larger part in discussions: more replies a day, "
        "more attachments, larger dialogs, threads published without premoderation."
    ),
)


REFERENCE_MAX_LENGTH = 100


class GrantSource(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    AUTOMATIC = "automatic", _("Automatic")
    STAFF = "staff", _("Staff")


class Status(models.Model):
    """A status members can hold, and the permission values it grants (checked against the registry)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    # {permission code: value}; validated against apps.authorization's registry on every save.
    permissions = models.JSONField(_("permissions"), default=dict, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("status")
        verbose_name_plural = _("statuses")

    def __str__(self) -> str:
        return self.name


class StatusGrant(models.Model):
    """One member holding one status from ``starts_at`` until ``ends_at`` (null: for good).

    A grant is never edited nor deleted: it ends by running out (``expired_at`` is set when the
    expiry task notices) or by being revoked (``revoked_at``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="status_grants",
        verbose_name=_("member"),
    )
    status = models.ForeignKey(
        Status, on_delete=models.PROTECT, related_name="grants", verbose_name=_("status")
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=GrantSource.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    # What the grant came from outside this app, e.g. the invoice of a purchase.
    reference = models.CharField(_("reference"), max_length=REFERENCE_MAX_LENGTH, blank=True, default="")
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        verbose_name = _("status grant")
        verbose_name_plural = _("status grants")
        indexes = [
            models.Index(fields=["user", "starts_at"], name="status_grant_user_idx"),
            # What the expiry task looks for.
            models.Index(
                fields=["ends_at"],
                name="status_grant_due_idx",
                condition=models.Q(revoked_at__isnull=True, expired_at__isnull=True, ends_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=models.F("starts_at")),
                name="status_grant_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        # Named in the admin's messages and titles: load the status and the member with the grant there.
        return str(_("%(status)s for %(member)s")) % {
            "status": self.status.name,
            "member": self.user.username,
        }
