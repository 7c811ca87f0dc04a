"""Django admin of roles: staff see each member's role, ban and statuses; admins change roles.

A role is changed through ``services.role_assign``, so that the Django admin flags and the support
group follow it and the change is published. Bans and statuses are shown here but changed by the apps
that own them (moderation, status). Members are picked by name (autocomplete), never by typing an id.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.authorization.models import MemberAccess
from apps.authorization.services import has_perm, role_assign


@admin.register(MemberAccess)
class MemberAccessAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "banned", "banned_until", "status_codes", "updated_at"]
    list_filter = ["role", "banned"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    fields = ["user", "role", "banned", "banned_until", "status_grants", "updated_at"]
    readonly_fields = ["banned", "banned_until", "status_grants", "updated_at"]
    ordering = ["user_id"]

    @admin.display(description=_("statuses"))
    def status_codes(self, obj: MemberAccess) -> str:
        return ", ".join(sorted({str(grant.get("status", "")) for grant in obj.statuses or []}))

    @admin.display(description=_("status grants"))
    def status_grants(self, obj: MemberAccess) -> str:
        """The grants as the status app last pushed them, in words (codes: names are that app's)."""
        lines = []
        for grant in obj.statuses or []:
            ends = grant.get("ends_at")
            lines.append(
                str(_("%(status)s from %(starts)s until %(ends)s"))
                % {"status": grant.get("status", ""), "starts": grant.get("starts_at", ""), "ends": ends}
                if ends
                else str(_("%(status)s from %(starts)s, for good"))
                % {"status": grant.get("status", ""), "starts": grant.get("starts_at", "")}
            )
        return "; ".join(lines) or "-"

    def get_readonly_fields(self, request: HttpRequest, obj: MemberAccess | None = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("user")  # a row belongs to its member for good
        return fields

    def _may_assign(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_authenticated and has_perm(user_id=request.user.pk, permission="role.assign")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_assign(request)

    def has_change_permission(self, request: HttpRequest, obj: MemberAccess | None = None) -> bool:
        return self._may_assign(request)

    def has_delete_permission(self, request: HttpRequest, obj: MemberAccess | None = None) -> bool:
        return False  # the row also holds statuses and a ban that other apps recorded

    def save_model(self, request: HttpRequest, obj: MemberAccess, form: Any, change: bool) -> None:
        role_assign(user_id=obj.user_id, role=obj.role, assigned_by=request.user.pk)
