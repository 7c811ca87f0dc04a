"""Tables of the authorization app: the engine's member facts, the API's token families, site sessions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
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
    # [{"code": str, "denied": [permission, ...], "ends_at": iso or null}], as the moderation app last
    # pushed them (an escalation: "no posting for 3 days"); like a ban, a restriction only takes
    # permissions away, and one whose end has passed is skipped at read time.
    restrictions = models.JSONField(_("restrictions"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("member access")
        verbose_name_plural = _("member access")
        indexes = [models.Index(fields=["role"], name="member_access_role_idx")]

    def __str__(self) -> str:
        # Named in the admin's messages and titles.
        return f"{self.user.username}: {self.get_role_display()}"


REVOKED_REASON_CHOICES = [
    ("signout", _("Signed out")),
    ("reuse", _("Refresh token reused")),
    ("ended", _("Ended by the member")),
    ("password_changed", _("Password changed")),
]


class TokenFamily(models.Model):
    """One sign-in through the API: every refresh token rotated from it belongs to the same family.

    Only the newest refresh token (``current_jti``) may be used; an older one coming back means that
    a copy leaked, so the whole family is revoked and its access tokens stop working too (they carry
    the family's id in their ``fam`` claim).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="token_families",
        verbose_name=_("member"),
    )
    created_at = models.DateTimeField(_("signed in"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last seen"), default=timezone.now)
    # The client's User-Agent, trimmed: for people to recognise their devices, never for decisions.
    device = models.CharField(_("device"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    current_jti = models.CharField(_("current refresh token id"), max_length=64)
    # The current refresh token's expiry: past it, the family is over without being revoked.
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(
        _("revoked because"), max_length=32, choices=REVOKED_REASON_CHOICES, blank=True
    )
    # The account's session hash when the family started (an HMAC of the password hash): a new
    # password refuses the family's tokens at once (tokens.py).
    password_stamp = models.CharField(_("password stamp"), max_length=128, blank=True, editable=False)

    class Meta:
        verbose_name = _("token family")
        verbose_name_plural = _("token families")
        indexes = [models.Index(fields=["user", "revoked_at"], name="token_family_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.id}"


class WebSession(models.Model):
    """A signed-in session of the site (Django's session store), as the member's list shows it.

    The session key is kept as is: it is already in the session table of the same database, and
    ending a session needs it to delete that row. Clients only ever see ``id``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="web_sessions",
        verbose_name=_("member"),
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("signed in"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    device = models.CharField(_("device"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("web session")
        verbose_name_plural = _("web sessions")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.id}"


class QuotaEntry(models.Model):
    """One use of a quota (a thread started, a post written), counted over the quota's rolling period.

    In the database, not in Redis: a quota is a promise ("three new threads a day") that must hold
    through a Redis outage or restart, and the write it pays for goes to this database anyway.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    permission = models.CharField(_("permission"), max_length=100)
    # What quota_refund names to give the use back.
    use_id = models.CharField(_("use ID"), max_length=32, unique=True)
    used_at = models.DateTimeField(_("used"))

    class Meta:
        verbose_name = _("quota use")
        verbose_name_plural = _("quota uses")
        indexes = [models.Index(fields=["user", "permission", "used_at"], name="quota_entry_window_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.permission} at {self.used_at}"
