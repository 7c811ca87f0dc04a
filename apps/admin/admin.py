"""Django admin of the moderation app: the staff action log (read-only, filterable, exported as CSV),
warning types and escalation rules (administrators), warnings (support issues and revokes them through
the services, so that points, escalations, notifications and the log follow) and the sanctions
escalations put on members (read-only); bans of accounts, email addresses and networks (administrators,
given and lifted through the services).
"""

from __future__ import annotations

import csv
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.admin.models import (
    ActionLogEntry,
    AddressBan,
    Ban,
    EmailBan,
    EscalationRule,
    MemberWarning,
    ModerationQueueEntry,
    Restriction,
    WarningType,
)
from apps.admin.services import (
    QUEUE_SHOW,
    REPORT_REASONS,
    WARN_PERMISSION,
    address_ban_add,
    address_ban_remove,
    ban_issue,
    ban_lift,
    email_ban_add,
    email_ban_remove,
    moderation_queue,
    moderation_queue_act,
    restriction_lift,
    warning_issue,
    warning_revoke,
)
from apps.authorization.services import has_perm
from forum.errors import ApplicationError

CSV_COLUMNS = (
    "id",
    "created_at",
    "actor_id",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "target_label",
    "reason",
    "extra",
)


def _actor(request: HttpRequest) -> int:
    assert request.user.pk is not None, "the admin lets only staff in"
    return int(request.user.pk)


@admin.register(ActionLogEntry)
class ActionLogEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Append-only: nobody adds, changes or deletes a row here (the database refuses it too)."""

    list_display = (
        "created_at",
        "actor_name",
        "action",
        "target_kind",
        "target_id",
        "target_label",
        "reason",
    )
    list_filter = ("action", "target_kind", "created_at")
    search_fields = ("actor_name", "target_label", "reason", "=target_id")
    date_hierarchy = "created_at"
    list_per_page = 100
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Export the selected entries as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[ActionLogEntry]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="staff-action-log.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in queryset.order_by("created_at", "id").values_list(*CSV_COLUMNS):
            # A cell starting with =, +, - or @ would run as a formula in a spreadsheet: quote it.
            writer.writerow([_csv_safe(value) for value in row])
        return response


def _csv_safe(value: Any) -> Any:
    if isinstance(value, dict):
        value = str(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@admin.register(WarningType)
class WarningTypeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "points", "expires_after_days", "is_active")
    list_filter = ("is_active",)


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("points", "sanction", "days", "is_active")
    list_filter = ("sanction", "is_active")


class WarningForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = MemberWarning
        fields = ("member", "warning_type", "reason")


class _IssuedThroughServicesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Warnings and bans: made with ``add_form`` through the services, never edited or deleted after
    (revoke or lift instead), so every field is read-only once made."""

    add_form: Any = None

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return [field.name for field in self.model._meta.fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MemberWarning)
class MemberWarningAdmin(_IssuedThroughServicesAdmin):
    add_form = WarningForm
    list_display = ("created_at", "member", "warning_type", "points", "issued_by", "expires_at", "revoked_at")
    list_filter = ("warning_type", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("member__username", "reason")
    list_select_related = ("member", "warning_type", "issued_by")
    autocomplete_fields = ("member",)
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: MemberWarning, form: Any, change: bool) -> None:
        if change:
            return  # nothing is edited after the fact: revoke instead
        try:
            row = warning_issue(
                actor_id=request.user.pk,
                member_id=obj.member_id,
                warning_type_id=obj.warning_type_id,
                reason=obj.reason,
            )
        except ApplicationError as error:
            self.message_user(request, str(error), messages.ERROR)
            obj.pk = None
            return
        obj.pk = row.id

    def response_add(self, request: HttpRequest, obj: MemberWarning, post_url_continue: Any = None) -> Any:
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=gettext_lazy("Revoke the selected warnings"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[MemberWarning]) -> None:
        done = 0
        for warning_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            try:
                warning_revoke(actor_id=request.user.pk, warning_id=warning_id)
            except ApplicationError as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            done += 1
        self.message_user(request, _("Warnings revoked: %(count)d") % {"count": done})


@admin.register(Restriction)
class RestrictionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("starts_at", "member", "sanction", "ends_at", "ended_at", "rule")
    list_filter = ("sanction", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("member__username",)
    list_select_related = ("member", "rule")
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        # Ending early is a change to a sanction: allowed with the view permission the Support group has
        # (the service checks the engine: a ban's restriction needs ``moderation.ban``).
        found = super().get_actions(request)
        found.pop("delete_selected", None)
        return found

    @admin.action(description=gettext_lazy("End the selected restrictions now"))
    def lift(self, request: HttpRequest, queryset: QuerySet[Restriction]) -> None:
        done = 0
        for restriction_id in queryset.filter(ended_at__isnull=True).values_list("pk", flat=True):
            try:
                restriction_lift(actor_id=_actor(request), restriction_id=restriction_id)
            except ApplicationError as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            done += 1
        self.message_user(request, _("Restrictions ended: %(count)d") % {"count": done})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Bans (administrators: the Support group has no permission on these models) ---------------------


class BanForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Ban
        fields = ("member", "kind", "reason", "ends_at")


@admin.register(Ban)
class BanAdmin(_IssuedThroughServicesAdmin):
    """Bans are given and lifted through the services: the engine, sessions, events and log follow."""

    add_form = BanForm

    list_display = ("starts_at", "member", "kind", "ends_at", "issued_by", "lifted_at", "lifted_by")
    list_filter = ("kind", ("lifted_at", admin.EmptyFieldListFilter), "starts_at")
    search_fields = ("member__username", "reason")
    list_select_related = ("member", "issued_by", "lifted_by")
    autocomplete_fields = ("member",)
    actions = ["lift"]

    def save_model(self, request: HttpRequest, obj: Ban, form: Any, change: bool) -> None:
        if change:
            return  # nothing is edited after the fact: lift instead
        try:
            row = ban_issue(
                actor_id=_actor(request),
                member_id=obj.member_id,
                kind=obj.kind,
                reason=obj.reason,
                ends_at=obj.ends_at,
            )
        except ApplicationError as error:
            self.message_user(request, str(error), messages.ERROR)
            obj.pk = None
            return
        obj.pk = row.id

    def response_add(self, request: HttpRequest, obj: Ban, post_url_continue: Any = None) -> Any:
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=gettext_lazy("Lift the selected bans"))
    def lift(self, request: HttpRequest, queryset: QuerySet[Ban]) -> None:
        done = 0
        for ban_id in queryset.filter(lifted_at__isnull=True).values_list("pk", flat=True):
            try:
                ban_lift(actor_id=_actor(request), ban_id=ban_id)
            except ApplicationError as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            done += 1
        self.message_user(request, _("Bans lifted: %(count)d") % {"count": done})


class _ListBanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Email and address bans: added and removed through the services (logged, lists reloaded)."""

    search_fields: ClassVar[tuple[str, ...]] = ("reason",)
    readonly_fields = ("created_at", "created_by")
    actions = ["remove"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deletes without the services: removed through "remove"
        return found

    def _add(self, request: HttpRequest, obj: Any) -> int:
        raise NotImplementedError

    def _remove(self, request: HttpRequest, ban_id: int) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return
        try:
            obj.pk = self._add(request, obj)
        except ApplicationError as error:
            self.message_user(request, str(error), messages.ERROR)
            obj.pk = None

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._remove(request, obj.pk)

    @admin.action(description=gettext_lazy("Remove the selected bans"))
    def remove(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for ban_id in ids:
            self._remove(request, ban_id)
        self.message_user(request, _("Bans removed: %(count)d") % {"count": len(ids)})


@admin.register(EmailBan)
class EmailBanAdmin(_ListBanAdmin):
    list_display = ("pattern", "reason", "created_at", "created_by")
    search_fields = ("pattern", "reason")
    fields = ("pattern", "reason", "created_at", "created_by")

    def _add(self, request: HttpRequest, obj: Any) -> int:
        return email_ban_add(actor_id=_actor(request), pattern=obj.pattern, reason=obj.reason)

    def _remove(self, request: HttpRequest, ban_id: int) -> None:
        email_ban_remove(actor_id=_actor(request), ban_id=ban_id)


@admin.register(AddressBan)
class AddressBanAdmin(_ListBanAdmin):
    list_display = ("network", "reason", "created_at", "created_by")
    search_fields = ("network", "reason")
    fields = ("network", "reason", "created_at", "created_by")

    def _add(self, request: HttpRequest, obj: Any) -> int:
        return address_ban_add(actor_id=_actor(request), network=obj.network, reason=obj.reason)

    def _remove(self, request: HttpRequest, ban_id: int) -> None:
        address_ban_remove(actor_id=_actor(request), ban_id=ban_id)


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isascii() and value.isdigit() and 0 < int(value) < 2**63]


@admin.register(ModerationQueueEntry)
class ModerationQueueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The one moderation queue in the admin: the same items as /moderation/ (threads awaiting
    premoderation, replies held by an escalation, open reports), the same filters (what to show, a
    report's reason) and the same bulk acts (approve, reject with a reason, dismiss), through the same
    services (``moderation_queue``, ``moderation_queue_act``). Staff with ``moderation.warn`` only."""

    def _allowed(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active and user.is_staff and has_perm(user_id=user.pk, permission=WARN_PERMISSION)
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        # Only the list: the queue's items are other apps' threads and tickets, opened on their pages.
        info = self.opts.app_label, self.opts.model_name
        return [
            path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self._allowed(request):
            raise PermissionDenied
        actor = _actor(request)
        if request.method == "POST":
            try:
                result = moderation_queue_act(
                    actor_id=actor,
                    action=request.POST.get("action", ""),
                    thread_ids=_ids(request.POST.getlist("thread")),
                    ticket_ids=_ids(request.POST.getlist("ticket")),
                    post_ids=_ids(request.POST.getlist("post")),
                    reason=request.POST.get("reason", ""),
                )
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Done: %(count)d") % {"count": result.done}, messages.SUCCESS)
                for problem in result.failed:
                    self.message_user(request, problem, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        show = request.GET.get("show", "all")
        show = show if show in QUEUE_SHOW else "all"
        reason = request.GET.get("reason", "")
        reason = reason if reason in REPORT_REASONS else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Moderation queue"),
            "queue": moderation_queue(viewer_id=actor, show=show, reason=reason),
            "show": show,
            "reason": reason,
            "shows": [
                ("all", _("All")),
                ("threads", _("Threads awaiting moderation")),
                ("posts", _("Replies awaiting approval")),
                ("reports", _("Open reports")),
            ],
            "reasons": REPORT_REASONS,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/forum_admin/moderation_queue.html", context)
