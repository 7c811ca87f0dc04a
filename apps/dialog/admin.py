"""Django admin of the dialog app: metadata only.

Dialogs are private: staff do not read them, not even superusers. The admin shows who takes part in
which dialog, when, and how far each one has read; never a message, a title or a file. Nothing is
added or changed here (members do that through the pages and the API); blocks are listed so that
support can answer "why can't X write to me?". Members are shown by name, in one query per page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.dialog.models import Block, Dialog, Participant


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_PARTICIPANT_INLINE_FIELDS = ("member", "joined_at", "last_read_message_id", "unread_count")


class ParticipantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Participant
    fields = _PARTICIPANT_INLINE_FIELDS
    readonly_fields = _PARTICIPANT_INLINE_FIELDS
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).select_related("user")

    @admin.display(description=_("member"))
    def member(self, obj: Participant) -> str:
        return obj.user.username

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dialog)
class DialogAdmin(_ReadOnly):
    # No title, no message: only what a dialog is, not what it says.
    list_display = ["id", "is_group", "owner", "participant_count", "created_at", "last_message_at"]
    list_filter = ["is_group"]
    fields = ["id", "is_group", "owner", "created_at", "last_message_at", "last_message_id"]
    readonly_fields = fields
    search_fields = ["=id", "participants__user__username"]
    inlines = [ParticipantInline]
    ordering = ["-last_message_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dialog]:
        return super().get_queryset(request).annotate(members=Count("participants")).select_related("owner")

    @admin.display(description=_("participants"), ordering="members")
    def participant_count(self, obj: Dialog) -> int:
        return int(getattr(obj, "members", 0))


@admin.register(Participant)
class ParticipantAdmin(_ReadOnly):
    list_display = ["id", "dialog_id", "user", "joined_at", "last_read_message_id", "unread_count"]
    fields = ["dialog_id", "user", "joined_at", "last_read_message_id", "unread_count"]
    readonly_fields = fields
    search_fields = ["user__username", "=dialog__id"]
    list_select_related = ["user"]


@admin.register(Block)
class BlockAdmin(_ReadOnly):
    list_display = ["user", "blocked", "created_at"]
    fields = ["user", "blocked", "created_at"]
    readonly_fields = fields
    search_fields = ["user__username", "blocked__username"]
    list_select_related = ["user", "blocked"]
