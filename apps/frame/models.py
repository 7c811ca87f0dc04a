"""Tables of the frame app: the catalogue of frames, who owns which (and which one they wear), and the
purchases under way (one row per invoice, holding a limited edition's unit until it is settled).

Statuses and invoices belong to other apps: a frame names the status its buyers must hold by its
code, a purchase its invoice by the invoice's public id, never by a foreign key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

NAME_MAX_LENGTH = 80


class Frame(models.Model):
    """A decorative frame drawn around a member's avatar. It never grants anything but its looks."""

    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    # The stored image as uploaded (PNG or WebP re-encoded by forum.uploads, or a sanitised SVG), and
    # what pages draw: the WebP thumbnail of a raster image, the SVG itself otherwise.
    image_key = models.CharField(max_length=200, blank=True, default="")
    display_key = models.CharField(max_length=200, blank=True, default="")
    image_type = models.CharField(max_length=40, blank=True, default="")
    price_sats = models.BigIntegerField(_("price (satoshis)"))
    # Only members holding this status (apps.status, by code) may buy it; "" for everyone.
    holders_only_status = models.CharField(_("only for holders of"), max_length=40, blank=True, default="")
    # A limited edition: how many are left to sell (None: unlimited). Taken when an invoice is made,
    # given back when it expires unpaid.
    left = models.PositiveIntegerField(_("left (limited edition)"), null=True, blank=True)
    active = models.BooleanField(_("on sale"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("frame")
        verbose_name_plural = _("frames")
        constraints = [
            models.CheckConstraint(condition=models.Q(price_sats__gt=0), name="frame_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class OwnershipSource(models.TextChoices):
    BOUGHT = "bought", _("Bought")
    GRANTED = "granted", _("Granted by staff")


class FrameOwnership(models.Model):
    """A member owns a frame (bought or granted), and may wear it: at most one worn per member."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    frame = models.ForeignKey(
        Frame, on_delete=models.PROTECT, related_name="ownerships", verbose_name=_("frame")
    )
    source = models.CharField(_("source"), max_length=10, choices=OwnershipSource.choices)
    # The payment app's public id of the invoice that paid for it; "" when granted.
    invoice_id = models.CharField(_("invoice"), max_length=40, blank=True, default="")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("granted by"),
    )
    equipped = models.BooleanField(_("worn"), default=False)
    created_at = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("frame owned")
        verbose_name_plural = _("frames owned")
        constraints = [
            models.UniqueConstraint(fields=["member", "frame"], name="frame_owned_once"),
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(equipped=True), name="frame_one_worn"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.frame_id} of {self.member_id}"


class PurchaseState(models.TextChoices):
    OPEN = "open", _("Waiting for payment")
    RELEASED = "released", _("Expired unpaid")
    FULFILLED = "fulfilled", _("Fulfilled")


class FramePurchase(models.Model):
    """One invoice for a frame: made by ``services.frame_buy``, fulfilled once when the payment app
    settles it, released (its unit of a limited edition given back) when it expires or turns invalid."""

    invoice_id = models.CharField(max_length=40, unique=True)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frame = models.ForeignKey(Frame, on_delete=models.PROTECT, related_name="purchases")
    state = models.CharField(max_length=10, choices=PurchaseState.choices, default=PurchaseState.OPEN)
    # Whether this purchase holds a unit of a limited edition right now.
    holds_unit = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["member", "frame", "state"], name="frame_purchase_open")]

    def __str__(self) -> str:
        return self.invoice_id
