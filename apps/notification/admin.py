"""Django admin of notifications: support looks up a member's settings and notifications, and anyone
on the staff sees the registry of kinds (read-only: kinds are declared in code).

Nothing here is edited: members change their own settings (or follow an email's unsubscribe link),
so a change never bypasses the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.notification.models import MemberSettings, Notification, Preference
from apps.notification.services import notification_kinds, preferences_get


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MemberSettings)
class MemberSettingsAdmin(ReadOnlyAdmin):
    list_display = ["user", "auto_watch", "email_enabled", "language", "last_digest_on", "updated_at"]
    list_filter = ["email_enabled", "auto_watch"]
    search_fields = ["user__username", "user__email"]
    fields = ["user", "auto_watch", "email_enabled", "language", "last_digest_on", "effective"]
    readonly_fields = fields
    change_list_template = "notification/admin/settings_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[MemberSettings]:
        return super().get_queryset(request).select_related("user")

    @admin.display(description=_("what the member gets"))
    def effective(self, obj: MemberSettings) -> str:
        preferences = preferences_get(user_id=obj.user_id)
        chosen = set(Preference.objects.filter(user_id=obj.user_id).values_list("kind", flat=True))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    choice.label,
                    _("yes") if choice.site else _("no"),
                    choice.email,
                    _("the member's choice") if choice.kind in chosen else _("the default"),
                )
                for choice in preferences.kinds
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>",
            _("kind"),
            _("on the site"),
            _("email"),
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        kinds = path(
            "kinds/",
            self.admin_site.admin_view(self.kinds_view),
            name="notification_membersettings_kinds",
        )
        return [kinds, *super().get_urls()]

    def kinds_view(self, request: HttpRequest) -> HttpResponse:
        """The registry of kinds, as the running code declares it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Notification kinds"),
            "kinds": notification_kinds(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "notification/admin/kinds.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"kinds_url": reverse("admin:notification_membersettings_kinds"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """For support answering "why did I (not) get a notification?"."""

    list_display = [
        "recipient",
        "kind",
        "source",
        "count",
        "on_site",
        "email",
        "emailed_at",
        "updated_at",
        "read_at",
    ]
    list_filter = ["kind", "email", "on_site"]
    search_fields = ["recipient__username"]
    date_hierarchy = "updated_at"
    ordering = ["-updated_at"]
    fields = [
        "recipient",
        "kind",
        "source",
        "actor_ids",
        "count",
        "params",
        "thread_id",
        "post_id",
        "on_site",
        "email",
        "emailed_at",
        "created_at",
        "updated_at",
        "read_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("recipient")
