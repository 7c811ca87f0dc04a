"""Django admin of notifications: support looks up a member's settings and notifications, and anyone
on the staff sees the registry of kinds (read-only: kinds are declared in code).

Nothing here is edited: members change their own settings (or follow an email's unsubscribe link),
so a change never bypasses the services. Members and threads are named, never numbered: their names
come from the user and thread apps' services, in one call each per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.notification.models import MemberSettings, Notification, Preference
from apps.notification.services import notification_kinds, preferences_get
from apps.thread.services import thread_titles_visible_to
from apps.user.services import USERS_BRIEF_MAX, users_brief

# A row names at most this many of its actors ("alice, bob and 12 more"): a page stays one lookup.
ACTORS_NAMED_MAX = 5
# Where a changelist or a change page keeps, on each row, the names looked up for it.
_ACTORS = "_admin_actor_names"
_THREAD = "_admin_thread_title"


def _member_names(user_ids: Iterable[int]) -> dict[int, str]:
    wanted = list(dict.fromkeys(user_id for user_id in user_ids if user_id))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), USERS_BRIEF_MAX):
        names.update(
            {
                brief.id: brief.username
                for brief in users_brief(user_ids=wanted[start : start + USERS_BRIEF_MAX])
            }
        )
    return names


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
        "actors",
        "thread",
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
        "actors",
        "count",
        "params",
        "thread",
        "post_id",
        "on_site",
        "email",
        "emailed_at",
        "created_at",
        "updated_at",
        "read_at",
    ]
    readonly_fields = fields

    list_select_related = ["recipient"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("recipient")

    def _name_rows(self, request: HttpRequest, rows: Sequence[Notification]) -> None:
        """The actors' names and the threads' titles of a page of rows, in one lookup each; a thread
        is titled only if the staff member looking may read it."""
        names = _member_names(actor for row in rows for actor in row.actor_ids[:ACTORS_NAMED_MAX])
        thread_ids = {row.thread_id for row in rows if row.thread_id}
        titles = (
            thread_titles_visible_to(user_id=int(request.user.pk or 0), thread_ids=thread_ids)
            if thread_ids
            else {}
        )
        for row in rows:
            shown = [names[actor] for actor in row.actor_ids[:ACTORS_NAMED_MAX] if actor in names]
            more = len(row.actor_ids) - len(shown)
            text = ", ".join(shown)
            if more > 0:
                text += " " + ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}
            setattr(row, _ACTORS, text.strip())
            setattr(row, _THREAD, titles.get(row.thread_id or 0, ""))

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        rows: list[Notification] = list(changelist.result_list)
        self._name_rows(request, rows)
        changelist.result_list = rows
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        found = super().get_object(request, object_id, from_field)
        if found is not None:
            self._name_rows(request, [found])
        return found

    @admin.display(description=_("actors"))
    def actors(self, obj: Notification) -> str:
        return str(getattr(obj, _ACTORS, "")) or "-"

    @admin.display(description=_("thread"))
    def thread(self, obj: Notification) -> str:
        return str(getattr(obj, _THREAD, "")) or "-"
