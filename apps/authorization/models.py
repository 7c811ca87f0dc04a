"""Tables of the permission engine: what it knows of a member beyond the account (role, ban, statuses)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.authorization.permissions import Role

ROLE_CHOICES = [
    (Role.USER.value, _("Member")),
    (Role.SUPPORT.value, _("Support")),
    (Role.ADMIN.value, _("Administrator")),
]


class MemberAccess(models.Model):
    """Everything the engine needs about one member, in one row, so that a request costs one query.

    A member without a row is a plain user with no statuses and no ban. The status app pushes the
    member's current grants here (``statuses``) whenever they change, and the moderation app records
    bans; the role is this app's own. Read together with the account's flags in a single query
    (``selectors.member_access_facts``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="forum_access",
        verbose_name=_("member"),
    )
    role = models.CharField(_("role"), max_length=16, choices=ROLE_CHOICES, default=Role.USER.value)
    banned = models.BooleanField(_("banned"), default=False)
    # Null with banned set: banned until lifted.
    banned_until = models.DateTimeField(_("banned until"), null=True, blank=True)
    # [{"status": code, "values": {permission: value}, "starts_at": iso, "ends_at": iso or null}], as the
    # status app last pushed them; grants that ended are skipped at read time, so a grant stops
    # granting at its end even before the expiry task has run.
    statuses = models.JSONField(_("status grants"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("member access")
        verbose_name_plural = _("member access")
        indexes = [models.Index(fields=["role"], name="member_access_role_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.role}"
