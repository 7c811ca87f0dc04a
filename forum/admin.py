"""Django admin of the kernel: the state of the search index (documents per kind, last indexed, how
far behind). Metadata only: titles and bodies are never shown (messages of dialogs are in there)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from forum.models import SearchDocument
from forum.search.backlog import events_behind
from forum.search.base import get_backend

_COLUMNS: tuple[str, ...] = (
    "kind",
    "object_id",
    "app",
    "forum_id",
    "author_id",
    "visible",
    "created_at",
    "indexed_at",
)


@admin.register(SearchDocument)
class SearchDocumentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = _COLUMNS
    list_filter = ("kind", "app", "visible")
    fields = _COLUMNS
    readonly_fields = _COLUMNS
    ordering = ["-indexed_at"]
    show_full_result_count = False
    change_list_template = "admin/forum/searchdocument/change_list.html"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        backend = get_backend()
        try:
            stats = backend.stats()
            problem = ""
        except Exception as error:  # noqa: BLE001  the page says the backend is down rather than failing
            stats, problem = None, str(error)
        extra = {
            "search_stats": stats,
            "search_problem": problem,
            "search_behind": events_behind(),
            "search_backend": backend.name,
            "title": _("Search index"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)
