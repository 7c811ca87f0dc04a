"""Django admin of frames: staff keep the catalogue (image upload with a preview, price, holders-only
status, limited editions, on sale or not) and grant frames to members, picked by name (autocomplete).

Images go through the service (``frame_image_store``: PNG or WebP through forum.uploads, SVG only
sanitised); every save registers the frame anew as the payment app's product ``frame:<id>``, and a
grant goes through ``frame_grant`` so that ``frame.granted`` is published. Purchases are the payment
app's invoices (its admin); the frames they paid for are listed here, never edited.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.frame.models import Frame, FrameOwnership, OwnershipSource
from apps.frame.services import (
    StoredImage,
    frame_grant,
    frame_image_delete,
    frame_image_store,
    frame_picture_url,
    frame_product_sync,
)
from apps.status.services import status_catalogue
from forum.errors import ValidationFailed


def _status_choices() -> list[tuple[str, str]]:
    return [("", _("Anyone")), *((status.code, status.name) for status in status_catalogue())]


class FrameForm(forms.ModelForm):  # type: ignore[type-arg]
    image = forms.FileField(
        label=_("Image"),
        required=False,
        help_text=_(
            "PNG, WebP or SVG (sanitised: scripts, links and anything but shapes are removed), square, "
            "transparent in the middle: the avatar fills the middle 80%. At most 1 MB."
        ),
    )
    holders_only_status = forms.ChoiceField(label=_("Only for holders of"), required=False, choices=())

    class Meta:
        model = Frame
        fields = ["name", "image", "price_sats", "holders_only_status", "left", "active", "position"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["holders_only_status"].choices = _status_choices()
        self.fields["left"].help_text = _("Empty: not a limited edition.")
        self.fields["image"].required = self.instance.pk is None
        self.stored: StoredImage | None = None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        upload = cleaned.get("image")
        if upload and not self.errors:
            # Stored once the rest of the form is valid, so that a refused form leaves no file behind.
            try:
                self.stored = frame_image_store(file=upload, filename=upload.name or "")
            except ValidationFailed as error:
                self.add_error("image", error.message)
        return cleaned


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = FrameForm
    list_display = [
        "thumbnail",
        "name",
        "price_sats",
        "left",
        "holders_only_status",
        "active",
        "owners",
        "position",
    ]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["active", "holders_only_status"]
    search_fields = ["name"]
    readonly_fields = ["preview"]
    fields = ["name", "preview", "image", "price_sats", "holders_only_status", "left", "active", "position"]

    def has_delete_permission(self, request: HttpRequest, obj: Frame | None = None) -> bool:
        # Members own frames and invoices name them: a frame is taken off sale (unticked), never deleted.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Frame]:
        return super().get_queryset(request).annotate(owner_count=Count("ownerships"))

    @admin.display(description=_("owners"), ordering="owner_count")
    def owners(self, obj: Frame) -> int:
        return int(getattr(obj, "owner_count", 0))

    def _picture(self, obj: Frame, size: int) -> str:
        if not obj.pk or not obj.display_key:
            return "—"
        url = frame_picture_url(frame_id=obj.pk, display_key=obj.display_key, image_type=obj.image_type)
        return format_html(
            '<img src="{}" alt="" width="{}" height="{}" style="background:#455a64;border-radius:50%">',
            url,
            size,
            size,
        )

    @admin.display(description=_("frame"))
    def thumbnail(self, obj: Frame) -> str:
        return self._picture(obj, 48)

    @admin.display(description=_("preview"))
    def preview(self, obj: Frame) -> str:
        return self._picture(obj, 160)

    def save_model(self, request: HttpRequest, obj: Frame, form: Any, change: bool) -> None:
        stored: StoredImage | None = getattr(form, "stored", None)
        old: StoredImage | None = None
        if stored is not None:
            if obj.image_key:
                old = StoredImage(obj.image_key, obj.display_key, obj.image_type)
            obj.image_key, obj.display_key, obj.image_type = (
                stored.image_key,
                stored.display_key,
                stored.image_type,
            )
        try:
            with transaction.atomic():
                obj.save()
                frame_product_sync(frame_id=obj.pk)
                if old is not None:
                    replaced = old
                    transaction.on_commit(lambda: frame_image_delete(image=replaced), robust=True)
        except Exception:
            if stored is not None:
                frame_image_delete(image=stored)
            raise


class GrantForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = FrameOwnership
        fields = ["member", "frame"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        member, frame = cleaned.get("member"), cleaned.get("frame")
        owned = FrameOwnership.objects.filter(member=member, frame=frame)
        if member is not None and frame is not None and owned.exists():
            self.add_error("frame", _("This member owns this frame already."))
        return cleaned


@admin.register(FrameOwnership)
class FrameOwnershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    add_form = GrantForm
    list_display = ["member", "frame", "source", "equipped", "invoice_id", "granted_by", "created_at"]
    list_filter = ["source", "equipped", "frame"]
    list_select_related = ["member", "frame", "granted_by"]
    search_fields = ["member__username", "member__email", "invoice_id"]
    autocomplete_fields = ["member", "frame"]

    def get_form(
        self, request: HttpRequest, obj: FrameOwnership | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: FrameOwnership | None = None) -> list[str]:
        if obj is None:
            return ["member", "frame"]
        return ["member", "frame", "source", "invoice_id", "granted_by", "equipped", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: FrameOwnership | None = None) -> list[str]:
        # An ownership is a record (of a payment, or of a grant): staff grant, or delete, never edit.
        return self.get_fields(request, obj) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: FrameOwnership, form: Any, change: bool) -> None:
        if change:
            return
        granted_by = int(request.user.pk) if request.user.pk is not None else None
        frame_grant(frame_id=obj.frame_id, member_id=obj.member_id, granted_by=granted_by)
        saved = FrameOwnership.objects.get(member_id=obj.member_id, frame_id=obj.frame_id)
        obj.pk = saved.pk
        obj.refresh_from_db()
        if saved.source == OwnershipSource.GRANTED:
            self.message_user(request, _("The frame is the member's now."), messages.SUCCESS)
