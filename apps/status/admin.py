"""Django admin of statuses: staff edit the catalogue, grant statuses and revoke grants.

Every change goes through the app's services, so that the permission engine learns of it in the same
transaction and the events (``status.granted``, ``status.revoked``) are published. Grants are never
edited or deleted: a mistake is revoked, and the history stays.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.authorization.services import permission_catalogue, permission_values_validate
from apps.status.models import GrantSource, Status, StatusGrant
from apps.status.services import grant_period_problems, status_define, status_grant, status_revoke
from forum.errors import ApplicationError, ValidationFailed


def _permission_help() -> str:
    codes = ", ".join(f"{info.code} ({info.kind})" for info in permission_catalogue())
    return str(
        _(
            'A JSON object of permission and value, e.g. {"thread.create_per_day": 10}. Flags take true, '
            "limits and quotas a whole number or null for no limit. Permissions: %(codes)s."
        )
    ) % {"codes": codes}


class StatusForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Status
        fields = ["code", "name", "description", "permissions", "position"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "permissions" in self.fields:
            self.fields["permissions"].help_text = _permission_help()

    def clean_permissions(self) -> dict[str, Any]:
        try:
            return permission_values_validate(values=self.cleaned_data.get("permissions"))
        except ValidationFailed as error:
            raise forms.ValidationError(
                [f"{code}: {message}" for code, problems in error.fields.items() for message in problems]
            ) from None


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = StatusForm
    list_display = ["code", "name", "position", "updated_at"]
    search_fields = ["code", "name"]
    ordering = ["position", "code"]

    def get_readonly_fields(self, request: HttpRequest, obj: Status | None = None) -> list[str]:
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Status | None = None) -> bool:
        return False  # grants point at it; a status is retired by granting it no more

    def save_model(self, request: HttpRequest, obj: Status, form: Any, change: bool) -> None:
        status_define(
            code=obj.code,
            name=obj.name,
            description=obj.description,
            permissions=obj.permissions,
            position=obj.position,
        )
        obj.pk = Status.objects.values_list("pk", flat=True).get(code=obj.code)


class GrantStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("active", _("Active")),
            ("scheduled", _("Scheduled")),
            ("ended", _("Ended")),
            ("revoked", _("Revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[StatusGrant]) -> QuerySet[StatusGrant]:
        now = timezone.now()
        running = Q(revoked_at__isnull=True, expired_at__isnull=True) & (
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )
        if self.value() == "active":
            return queryset.filter(running, starts_at__lte=now)
        if self.value() == "scheduled":
            return queryset.filter(running, starts_at__gt=now)
        if self.value() == "ended":
            return queryset.filter(revoked_at__isnull=True).exclude(running)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class GrantForm(forms.ModelForm):  # type: ignore[type-arg]
    """Granting a status by hand: the member, the status and the period (empty end: for good)."""

    class Meta:
        model = StatusGrant
        fields = ["user", "status", "starts_at", "ends_at", "reference"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].required = False
        self.fields["starts_at"].help_text = _("Empty: now.")
        self.fields["ends_at"].help_text = _("Empty: for good.")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        now = timezone.now()
        problems = grant_period_problems(
            starts_at=cleaned.get("starts_at") or now, ends_at=cleaned.get("ends_at"), now=now
        )
        for field, field_problems in problems.items():
            for problem in field_problems:
                self.add_error(field, problem)
        return cleaned


@admin.register(StatusGrant)
class StatusGrantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    add_form = GrantForm
    list_display = ["user", "status", "source", "starts_at", "ends_at", "state", "granted_by"]
    list_filter = [GrantStateFilter, "status", "source", "starts_at"]
    list_select_related = ["user", "status", "granted_by"]
    search_fields = ["user__username", "user__email", "reference"]
    raw_id_fields = ["user"]
    actions = ["revoke_grants"]
    date_hierarchy = "starts_at"

    @admin.display(description=_("state"))
    def state(self, obj: StatusGrant) -> str:
        now = timezone.now()
        if obj.revoked_at is not None:
            return str(_("Revoked"))
        if obj.expired_at is not None or (obj.ends_at is not None and obj.ends_at <= now):
            return str(_("Ended"))
        if obj.starts_at > now:
            return str(_("Scheduled"))
        return str(_("Active"))

    def get_form(
        self, request: HttpRequest, obj: StatusGrant | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: StatusGrant | None = None) -> list[str]:
        if obj is None:
            return list(GrantForm.Meta.fields)
        return [
            "user",
            "status",
            "source",
            "starts_at",
            "ends_at",
            "granted_by",
            "reference",
            "revoked_at",
            "revoked_by",
            "expired_at",
            "created_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: StatusGrant | None = None) -> list[str]:
        # A grant is a record: once made it is only revoked, never edited.
        return self.get_fields(request, obj) if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: StatusGrant | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StatusGrant, form: Any, change: bool) -> None:
        if change:
            return  # nothing on a grant can be edited
        granted = status_grant(
            user_id=obj.user_id,
            status_code=obj.status.code,
            source=GrantSource.STAFF,
            starts_at=obj.starts_at or None,
            ends_at=obj.ends_at,
            granted_by=request.user.pk,
            reference=obj.reference,
        )
        obj.pk = granted.grant_id
        obj.refresh_from_db()

    @admin.action(description=_("Revoke the selected grants"), permissions=["change"])
    def revoke_grants(self, request: HttpRequest, queryset: QuerySet[StatusGrant]) -> None:
        revoked, refused = 0, 0
        for grant_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                status_revoke(grant_id=grant_id, revoked_by=request.user.pk)
            except ApplicationError:
                refused += 1  # already revoked or ended
            else:
                revoked += 1
        if revoked:
            self.message_user(
                request,
                ngettext("%(count)d grant revoked.", "%(count)d grants revoked.", revoked)
                % {"count": revoked},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d grant was already over and is left as it was.",
                    "%(count)d grants were already over and are left as they were.",
                    refused,
                )
                % {"count": refused},
                messages.WARNING,
            )
