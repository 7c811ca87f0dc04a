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


class StatusPlan(models.Model):
    """A way to buy a status: for ``days`` days (null: for good) at a price.

    The price is either whole satoshis (``price_sats``) or minor units of a fiat currency
    (``price_fiat_cents`` of ``currency``, one of PAYMENT_FIAT_CURRENCIES), which the payment app turns
    into satoshis at the rate of the moment each invoice is made, and locks on it.
    """

    status = models.ForeignKey(
        Status, on_delete=models.PROTECT, related_name="plans", verbose_name=_("status")
    )
    days = models.PositiveIntegerField(
        _("days"), null=True, blank=True, help_text=_("Leave empty for a permanent status.")
    )
    price_sats = models.PositiveBigIntegerField(_("price in satoshis"), null=True, blank=True)
    price_fiat_cents = models.PositiveBigIntegerField(
        _("price in a currency"),
        null=True,
        blank=True,
        help_text=_("In hundredths (cents, kopecks); instead of a price in satoshis."),
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True, default="")
    active = models.BooleanField(_("on sale"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["status__position", "position", "days", "pk"]
        verbose_name = _("status plan")
        verbose_name_plural = _("status plans")
        constraints = [
            # One price: whole satoshis, or minor units of a currency.
            models.CheckConstraint(
                # isnull spelt out: a comparison with NULL is unknown, which a CHECK lets through.
                condition=(
                    models.Q(
                        price_sats__isnull=False, price_sats__gt=0, price_fiat_cents__isnull=True, currency=""
                    )
                    | models.Q(
                        price_sats__isnull=True, price_fiat_cents__isnull=False, price_fiat_cents__gt=0
                    )
                    & ~models.Q(currency="")
                ),
                name="status_plan_one_price",
                violation_error_message=_("Give one price: in satoshis, or in a currency with its code."),
            ),
            models.CheckConstraint(
                condition=models.Q(days__isnull=True) | models.Q(days__gt=0), name="status_plan_days_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status.name}: {self.days or '∞'}"


class PlanPurchase(models.Model):
    """A settled invoice for a plan, fulfilled once: the unique invoice id is what makes it so."""

    invoice_id = models.CharField(_("invoice"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    plan = models.ForeignKey(
        StatusPlan, on_delete=models.PROTECT, related_name="purchases", verbose_name=_("plan")
    )
    grant = models.ForeignKey(
        StatusGrant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("grant"),
    )
    paid_sats = models.PositiveBigIntegerField(_("paid in satoshis"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("plan purchase")
        verbose_name_plural = _("plan purchases")

    def __str__(self) -> str:
        return self.invoice_id


class RuleKind(models.TextChoices):
    POSTS_MIN = "posts_min", _("Posts at least")
    DAYS_MEMBER_MIN = "days_member_min", _("Days since joining at least")
    REACTION_SCORE_MIN = "reaction_score_min", _("Reaction score at least")
    NOT_BANNED = "not_banned", _("Not banned")
    # Read from the moderation app through the fact registry of the services (rule_fact_register).
    WARNING_POINTS_MAX = "warning_points_max", _("Active warning points at most")


class StatusRule(models.Model):
    """One condition of a status given automatically; a member holds it while every rule of it holds."""

    status = models.ForeignKey(
        Status, on_delete=models.CASCADE, related_name="rules", verbose_name=_("status")
    )
    kind = models.CharField(_("condition"), max_length=32, choices=RuleKind.choices)
    threshold = models.PositiveIntegerField(
        _("threshold"),
        default=0,
        help_text=_(
            "The least for the “at least” conditions, the most for “at most” (0: no active warnings); "
            "not used for “Not banned”."
        ),
    )

    class Meta:
        ordering = ["status__position", "kind", "pk"]
        verbose_name = _("automatic rule")
        verbose_name_plural = _("automatic rules")
        constraints = [models.UniqueConstraint(fields=["status", "kind"], name="status_rule_once_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.threshold}"


class MemberActivity(models.Model):
    """What the rules count, kept by this app from other apps' events (posts, reactions received)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    posts = models.IntegerField(default=0)
    reaction_score = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.posts} posts, {self.reaction_score} reactions"


class AutomaticStanding(models.Model):
    """A member's automatic grant of a status whose rules stopped holding at ``failing_since``:
    taken back once the grace period has passed, forgotten when the rules hold again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="+")
    failing_since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "status"], name="status_standing_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.status_id} failing since {self.failing_since:%Y-%m-%d}"
