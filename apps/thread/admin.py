"""Django admin of the thread app: the forum tree, threads with the moderation queue, posts.

Moderation goes through the services (approve, reject with a reason), so that counters stay right and
the events are published; staff without ``thread.moderate`` are refused by the engine.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from apps.thread.models import REASON_MAX_LENGTH, Bookmark, Forum, Post, Thread, ThreadState
from apps.thread.services import forum_create, thread_approve, thread_reject
from forum.errors import ApplicationError


class ForumForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Forum
        fields = [
            "parent",
            "kind",
            "name",
            "slug",
            "description",
            "position",
            "read_permission",
            "post_permission",
        ]


@admin.register(Forum)
class ForumAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ForumForm
    list_display = [
        "name",
        "kind",
        "parent",
        "depth",
        "position",
        "read_permission",
        "thread_count",
        "post_count",
    ]
    list_editable = ["position"]
    ordering = ["depth", "position", "id"]
    readonly_fields = ["depth", "thread_count", "post_count", "last_post_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Forum | None = None) -> list[str]:
        # Moving a forum would change the depth of its whole subtree; not offered yet.
        return [*self.readonly_fields, "parent"] if obj is not None else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Forum, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        created = forum_create(
            name=obj.name,
            parent_id=obj.parent_id,
            kind=obj.kind,
            description=obj.description,
            position=obj.position,
            slug=obj.slug,
            read_permission=obj.read_permission,
            post_permission=obj.post_permission,
        )
        obj.pk = created.id

    def has_delete_permission(self, request: HttpRequest, obj: Forum | None = None) -> bool:
        return False  # threads point at it


class ModerationQueueFilter(admin.SimpleListFilter):
    title = _("moderation")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("Awaiting moderation")), ("rejected", _("Rejected"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Thread]) -> QuerySet[Thread]:
        if self.value() in {"pending", "rejected"}:
            return queryset.filter(state=self.value(), deleted_at__isnull=True)
        return queryset


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX_LENGTH)


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "forum", "author", "state", "closed", "pinned", "created_at", "post_count"]
    list_filter = [ModerationQueueFilter, "state", "closed", "pinned", "forum"]
    search_fields = ["title"]
    readonly_fields = [field.name for field in Thread._meta.fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # threads are started on the site or through the API

    def has_change_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        return False

    @admin.action(description=_("Approve the selected threads"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Thread]) -> None:
        done = 0
        for thread_id in queryset.values_list("pk", flat=True):
            try:
                thread_approve(moderator_id=int(request.user.pk or 0), thread_id=thread_id)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{thread_id}: {error.message}", messages.WARNING)
        if done:
            self.message_user(request, _("Approved: %(count)d.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected threads"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Thread]) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for thread_id in queryset.values_list("pk", flat=True):
                try:
                    thread_reject(
                        moderator_id=int(request.user.pk or 0),
                        thread_id=thread_id,
                        reason=form.cleaned_data["reason"],
                    )
                    done += 1
                except ApplicationError as error:
                    self.message_user(request, f"{thread_id}: {error.message}", messages.WARNING)
            if done:
                self.message_user(request, _("Rejected: %(count)d.") % {"count": done}, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject the selected threads"),
            "threads": queryset.filter(state=ThreadState.PENDING),
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "thread/admin/reject.html", context)


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "thread", "author", "position", "created_at", "edited_at", "deleted_at"]
    list_filter = ["deleted_at"]
    readonly_fields = [field.name for field in Post._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For staff lookups (who keeps which post, searched by username or post id): read-only, but staff
    with the delete permission may delete. Members' drafts are not in the admin: unsent text is its
    writer's alone."""

    list_display = ["id", "user", "post", "note", "created_at"]
    list_select_related = ["user", "post"]
    search_fields = ["user__username", "post__id__exact"]
    readonly_fields = [field.name for field in Bookmark._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members bookmark on the site or through the API

    def has_change_permission(self, request: HttpRequest, obj: Bookmark | None = None) -> bool:
        return False
