"""Django admin of statuses: staff edit the catalogue, grant statuses and revoke grants.

Every change goes through the app's services, so that the permission engine learns of it in the same
transaction and the events (``status.granted``, ``status.revoked``) are published. Grants are never
edited or deleted: a mistake is revoked, and the history stays.

What a status grants is edited as a form built from the permission registry of the authorization app
(a field per permission, of its kind, with its description), not as JSON; the form stores the same
``{permission: value}`` object the services check. Members are picked by name (autocomplete).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.forms.models import ModelFormMetaclass
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.authorization.services import (
    PermissionInfo,
    PermissionKind,
    PermissionValue,
    permission_catalogue,
    permission_values_validate,
)
from apps.status.models import GrantSource, PlanPurchase, Status, StatusGrant, StatusPlan, StatusRule
from apps.status.services import (
    grant_period_problems,
    plan_price_problems,
    plan_save,
    status_define,
    status_grant,
    status_revoke,
)
from forum.errors import ApplicationError, ValidationFailed

# The form's fields for permissions are named after their codes ("thread.create" ->
# "permission__thread__create"): the admin's templates and the POST data need plain names.
FIELD_PREFIX = "permission__"
# How a limit or a quota is granted: not at all (the role's value stands), up to a number, or without limit.
NOT_GRANTED, UP_TO, NO_LIMIT = "", "number", "unlimited"
# A message after an action names at most this many grants, then says how many more.
NAMED_IN_MESSAGE_MAX = 10


def permission_field_name(code: str) -> str:
    return FIELD_PREFIX + code.replace(".", "__")


def _period(seconds: int) -> str:
    if seconds % 86400 == 0:
        return ngettext("%(count)d day", "%(count)d days", seconds // 86400) % {"count": seconds // 86400}
    if seconds % 3600 == 0:
        return ngettext("%(count)d hour", "%(count)d hours", seconds // 3600) % {"count": seconds // 3600}
    if seconds % 60 == 0:
        return ngettext("%(count)d minute", "%(count)d minutes", seconds // 60) % {"count": seconds // 60}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


def _kind_text(info: PermissionInfo) -> str:
    if info.kind == PermissionKind.FLAG:
        return str(_("a flag: ticked, the status allows it"))
    if info.kind == PermissionKind.QUOTA and info.period_seconds:
        return str(_("a quota: uses in any %(period)s")) % {"period": _period(info.period_seconds)}
    return str(_("a limit: a number, or no limit"))


class AmountWidget(forms.MultiWidget):
    """A limit or a quota: how it is granted (a choice), and the number when there is one."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            [
                forms.Select(choices=AmountField.CHOICES, attrs={"aria-label": _("how it is granted")}),
                forms.NumberInput(attrs={"min": 0, "aria-label": _("the number")}),
            ],
            attrs,
        )

    def decompress(self, value: Any) -> list[Any]:
        if value == NO_LIMIT:
            return [NO_LIMIT, None]
        if isinstance(value, int) and not isinstance(value, bool):
            return [UP_TO, value]
        return [NOT_GRANTED, None]


class AmountField(forms.MultiValueField):
    """Cleans to ``(granted, value)``: ``(False, None)`` when not granted, ``(True, None)`` for no limit."""

    CHOICES = [(NOT_GRANTED, _("not granted")), (UP_TO, _("up to the number")), (NO_LIMIT, _("no limit"))]

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.ChoiceField(choices=self.CHOICES, required=False),
            forms.IntegerField(min_value=0, required=False),
        )
        super().__init__(fields, require_all_fields=False, required=False, widget=AmountWidget, **kwargs)

    def compress(self, data_list: Sequence[Any]) -> tuple[bool, int | None]:
        mode, number = [*data_list, NOT_GRANTED, None][:2]
        if mode == NO_LIMIT:
            return True, None
        if mode == UP_TO:
            if number is None:
                raise forms.ValidationError(_("Give the number, or choose “no limit”."), code="no_number")
            return True, int(number)
        if number is not None:
            raise forms.ValidationError(
                _("Choose “up to the number” to grant this number, or clear it."), code="not_granted"
            )
        return False, None


def _permission_field(info: PermissionInfo) -> forms.Field:
    help_text = f"{info.description} ({_kind_text(info)})"
    if info.kind == PermissionKind.FLAG:
        return forms.BooleanField(label=info.code, required=False, help_text=help_text)
    return AmountField(label=info.code, help_text=help_text)


def _initial(info: PermissionInfo, granted: Mapping[str, Any]) -> Any:
    if info.code not in granted:
        return False if info.kind == PermissionKind.FLAG else NOT_GRANTED
    value = granted[info.code]
    if info.kind == PermissionKind.FLAG:
        return bool(value)
    return NO_LIMIT if value is None else value


class StatusForm(forms.ModelForm):  # type: ignore[type-arg]
    """The status's own fields; ``status_form_class`` adds a field per permission of the registry."""

    permission_infos: tuple[PermissionInfo, ...] = ()

    class Meta:
        model = Status
        fields = ["code", "name", "description", "position"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        granted = self.instance.permissions if isinstance(self.instance.permissions, Mapping) else {}
        for info in self.permission_infos:
            name = permission_field_name(info.code)
            if name in self.fields:
                self.fields[name].initial = _initial(info, granted)
        self.permission_values: dict[str, PermissionValue] = {}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        values: dict[str, PermissionValue] = {}
        for info in self.permission_infos:
            name = permission_field_name(info.code)
            if name not in cleaned:
                continue  # refused by its field: the error is shown there
            if info.kind == PermissionKind.FLAG:
                if cleaned[name]:
                    values[info.code] = True
                continue
            granted, value = cleaned[name]
            if granted:
                values[info.code] = value
        try:
            self.permission_values = permission_values_validate(values=values)
        except ValidationFailed as error:
            for code, problems in error.fields.items():
                name = permission_field_name(code)
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
        return cleaned

    def save(self, commit: bool = True) -> Any:
        self.instance.permissions = self.permission_values
        return super().save(commit)


def status_form_class() -> type[StatusForm]:
    """A StatusForm with a field per permission declared now (apps declare theirs when ready)."""
    infos = tuple(permission_catalogue())
    attrs: dict[str, Any] = {permission_field_name(info.code): _permission_field(info) for info in infos}
    attrs["permission_infos"] = infos
    attrs["__module__"] = __name__
    return cast("type[StatusForm]", ModelFormMetaclass("StatusPermissionsForm", (StatusForm,), attrs))


def _granted_text(granted: Mapping[str, Any]) -> str:
    """What a status grants, in words: "Start threads; New threads a day: 10"."""
    parts = []
    for info in permission_catalogue():
        if info.code not in granted:
            continue
        value = granted[info.code]
        if info.kind == PermissionKind.FLAG:
            if value:
                parts.append(info.description)
        else:
            amount = str(_("no limit")) if value is None else str(value)
            parts.append(f"{info.description}: {amount}")
    return "; ".join(parts)


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = StatusForm
    list_display = ["code", "name", "grants", "position", "updated_at"]
    search_fields = ["code", "name"]
    ordering = ["position", "code"]

    def get_form(
        self, request: HttpRequest, obj: Status | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = status_form_class()
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Status | None = None) -> Any:
        return [
            (None, {"fields": ["code", "name", "description", "position"]}),
            (
                _("What the status grants"),
                {
                    "fields": [permission_field_name(info.code) for info in permission_catalogue()],
                    "description": _(
                        "A status only adds: a member gets the most generous of their role's value and "
                        "the values of every status they hold. Not granted: the role's value stands."
                    ),
                },
            ),
        ]

    @admin.display(description=_("grants"))
    def grants(self, obj: Status) -> str:
        return _granted_text(obj.permissions if isinstance(obj.permissions, Mapping) else {})

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
    autocomplete_fields = ["user"]
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
        revoked: list[str] = []
        refused: list[str] = []
        for grant in queryset.select_related("status", "user").order_by("pk"):
            try:
                status_revoke(grant_id=grant.pk, revoked_by=request.user.pk)
            except ApplicationError:
                refused.append(str(grant))  # already revoked or ended
            else:
                revoked.append(str(grant))
        if revoked:
            self.message_user(
                request,
                ngettext("Revoked: %(grants)s.", "%(count)d grants revoked: %(grants)s.", len(revoked))
                % {"count": len(revoked), "grants": _named(revoked)},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "Already over, left as it was: %(grants)s.",
                    "%(count)d grants were already over and are left as they were: %(grants)s.",
                    len(refused),
                )
                % {"count": len(refused), "grants": _named(refused)},
                messages.WARNING,
            )


def _named(labels: Sequence[str]) -> str:
    shown = ", ".join(labels[:NAMED_IN_MESSAGE_MAX])
    more = len(labels) - NAMED_IN_MESSAGE_MAX
    if more > 0:
        shown += " " + ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}
    return shown


class PlanForm(forms.ModelForm):  # type: ignore[type-arg]
    """The price's problems shown on its fields (the same checks as ``plan_save``)."""

    class Meta:
        model = StatusPlan
        fields = ["status", "days", "price_sats", "price_fiat_cents", "currency", "active", "position"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = str(cleaned.get("currency") or "").strip().upper()
        cleaned["currency"] = currency
        problems = plan_price_problems(
            price_sats=cleaned.get("price_sats"),
            price_fiat_cents=cleaned.get("price_fiat_cents"),
            currency=currency,
        )
        for field, messages_ in problems.items():
            for message in messages_:
                self.add_error(field, message)
        return cleaned


@admin.register(StatusPlan)
class StatusPlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Plans are saved through ``plan_save``, which registers each with the payment app as the product
    ``status-plan:<id>`` (off sale there when the plan is)."""

    form = PlanForm

    list_display = ["status", "days", "price_sats", "price_fiat_cents", "currency", "active", "position"]
    list_filter = ["status", "active"]
    fields = ["status", "days", "price_sats", "price_fiat_cents", "currency", "active", "position"]

    def has_delete_permission(self, request: HttpRequest, obj: StatusPlan | None = None) -> bool:
        return False  # invoices and purchases name it; take it off sale instead

    def save_model(self, request: HttpRequest, obj: StatusPlan, form: Any, change: bool) -> None:
        saved = plan_save(
            plan_id=obj.pk,
            status_code=obj.status.code,
            days=obj.days,
            price_sats=obj.price_sats,
            price_fiat_cents=obj.price_fiat_cents,
            currency=obj.currency,
            active=obj.active,
            position=obj.position,
        )
        obj.pk = saved.plan_id


@admin.register(StatusRule)
class StatusRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A status with rules is given automatically to every member for whom all its rules hold (on the
    events that change what they count, and daily), and taken back STATUS_AUTOMATIC_GRACE_DAYS after
    they stop holding."""

    list_display = ["status", "kind", "threshold"]
    list_filter = ["status", "kind"]
    fields = ["status", "kind", "threshold"]


@admin.register(PlanPurchase)
class PlanPurchaseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["invoice_id", "user", "plan", "paid_sats", "created_at"]
    search_fields = ["invoice_id", "user__username"]
    list_select_related = ["user", "plan__status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by a settled invoice

    def has_change_permission(self, request: HttpRequest, obj: PlanPurchase | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PlanPurchase | None = None) -> bool:
        return False
