"""Django admin of the thread app: the forum tree, threads with their posts and the moderation queue,
posts searched, hidden and restored.

Moderation goes through the services (approve, reject with a reason, hide, restore), so that counters
stay right, the events are published and the guests' cached pages are let go; staff without
``thread.moderate`` are refused by the engine. Members are named, never numbered: the names of ids that
belong to the user app come from its services, in one call per page.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.authorization.services import has_perm
from apps.thread.models import REASON_MAX_LENGTH, Bookmark, Forum, Post, Thread, ThreadState
from apps.thread.services import (
    forum_create,
    post_delete,
    post_restore,
    thread_approve,
    thread_reject,
)
from apps.user.services import users_brief
from forum import pagecache
from forum.errors import ApplicationError

# The thread's page in the admin shows its latest posts; the rest are one link away (the post list,
# filtered by the thread), so that a thread of ten thousand posts still opens.
POST_INLINE_MAX = 50
EXCERPT_LENGTH = 160
# A message after an action names at most this many posts, then says how many more.
NAMED_IN_MESSAGE_MAX = 10
# What the thread's and a post's pages show (all read-only: changes go through the actions).
_POST_INLINE_FIELDS = ("position", "author_name", "excerpt", "created_at", "visibility")
_THREAD_FIELDS = (
    "title",
    "forum",
    "author_name",
    "state",
    "rejection_reason",
    "moderated_by_name",
    "moderated_at",
    "closed",
    "pinned",
    "created_at",
    "post_count",
    "last_post_at",
    "last_poster_name",
    "deleted_at",
    "posts_link",
)
_POST_FIELDS = (
    "thread_link",
    "position",
    "author_name",
    "created_at",
    "edited_at",
    "visibility",
    "body",
    "site_link",
)
# Where a changelist keeps, on each row, the name of the member who hid it (looked up once per page).
_HIDDEN_BY = "_admin_hidden_by_name"


def member_names(user_ids: Collection[int | None]) -> dict[int, str]:
    """The usernames of the accounts among ``user_ids``, in one call to the user app (none when empty)."""
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    return {brief.id: brief.username for brief in users_brief(user_ids=wanted)}


def _excerpt(body: str) -> str:
    return Truncator(" ".join(body.split())).chars(EXCERPT_LENGTH)


def _post_label(post: Post) -> str:
    """A post as a message names it (its thread and author must be loaded with it)."""
    return str(_("#%(position)d by %(author)s in “%(thread)s”")) % {
        "position": post.position,
        "author": post.author.username,
        "thread": post.thread.title,
    }


def _named(labels: Sequence[str]) -> str:
    shown = ", ".join(labels[:NAMED_IN_MESSAGE_MAX])
    more = len(labels) - NAMED_IN_MESSAGE_MAX
    if more > 0:
        shown += " " + ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}
    return shown


def _visibility(post: Post, hidden_by: str) -> str:
    if post.deleted_at is None:
        return str(_("Shown"))
    when = formats.localize(timezone.localtime(post.deleted_at))
    if hidden_by:
        return str(_("Hidden %(when)s by %(member)s")) % {"when": when, "member": hidden_by}
    return str(_("Hidden %(when)s")) % {"when": when}


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
    list_select_related = ["parent"]
    ordering = ["depth", "position", "id"]
    readonly_fields = ["depth", "thread_count", "post_count", "last_post_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Forum | None = None) -> list[str]:
        # Moving a forum would change the depth of its whole subtree; not offered yet.
        return [*self.readonly_fields, "parent"] if obj is not None else list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Forum, form: Any, change: bool) -> None:
        with transaction.atomic():
            # A forum's name, place or permissions are on every page of the forum (kept guests' pages,
            # members' kept parts): they go once this commits.
            pagecache.changed("thread")
            self._save_forum(obj, change)

    def _save_forum(self, obj: Forum, change: bool) -> None:
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


def _may_moderate(request: HttpRequest) -> bool:
    return bool(
        request.user.is_authenticated
        and has_perm(user_id=int(request.user.pk or 0), permission="thread.moderate")
    )


class PostInline(admin.TabularInline):  # type: ignore[type-arg]
    """The latest posts of a thread on its admin page, read-only: hiding and restoring are actions of
    the post list, which the thread's page links to."""

    model = Post
    fields = _POST_INLINE_FIELDS
    readonly_fields = _POST_INLINE_FIELDS
    ordering = ["position"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("latest posts")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        return super().get_queryset(request).select_related("author", "thread")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("author"))
    def author_name(self, obj: Post) -> str:
        return obj.author.username

    @admin.display(description=_("text"))
    def excerpt(self, obj: Post) -> str:
        return _excerpt(obj.body)

    @admin.display(description=_("visibility"))
    def visibility(self, obj: Post) -> str:
        return _visibility(obj, "")


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "forum", "author_name", "state", "closed", "pinned", "created_at", "post_count"]
    list_filter = [ModerationQueueFilter, "state", "closed", "pinned", "forum"]
    list_select_related = ["forum", "author"]
    search_fields = ["title", "author__username"]
    fields = _THREAD_FIELDS
    readonly_fields = _THREAD_FIELDS
    inlines = [PostInline]
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # threads are started on the site or through the API

    def has_change_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        return False

    def get_formset_kwargs(
        self, request: HttpRequest, obj: Thread, inline: Any, prefix: str
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, PostInline) and obj is not None and obj.pk is not None:
            latest = Post.objects.filter(thread_id=obj.pk).order_by("-position").values("pk")
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=latest[:POST_INLINE_MAX])
        return kwargs

    @admin.display(description=_("author"), ordering="author__username")
    def author_name(self, obj: Thread) -> str:
        return obj.author.username

    @admin.display(description=_("moderated by"))
    def moderated_by_name(self, obj: Thread) -> str:
        return member_names([obj.moderated_by_id]).get(obj.moderated_by_id or 0, "")

    @admin.display(description=_("last reply by"))
    def last_poster_name(self, obj: Thread) -> str:
        return member_names([obj.last_poster_id]).get(obj.last_poster_id or 0, "")

    @admin.display(description=_("posts"))
    def posts_link(self, obj: Thread) -> str:
        url = reverse("admin:thread_post_changelist") + f"?thread__id__exact={obj.pk}"
        label = ngettext(
            "All %(count)d post: search, hide and restore",
            "All %(count)d posts: search, hide and restore",
            obj.last_position,
        ) % {"count": obj.last_position}
        site = reverse("thread-detail", args=[obj.pk])
        return format_html('<a href="{}">{}</a> · <a href="{}">{}</a>', url, label, site, _("on the site"))

    @admin.action(description=_("Approve the selected threads"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Thread]) -> None:
        done = 0
        for thread_id, title in queryset.values_list("pk", "title"):
            try:
                thread_approve(moderator_id=int(request.user.pk or 0), thread_id=thread_id)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"“{title}”: {error.message}", messages.WARNING)
        if done:
            self.message_user(request, _("Approved: %(count)d.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected threads"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Thread]) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for thread_id, title in queryset.values_list("pk", "title"):
                try:
                    thread_reject(
                        moderator_id=int(request.user.pk or 0),
                        thread_id=thread_id,
                        reason=form.cleaned_data["reason"],
                    )
                    done += 1
                except ApplicationError as error:
                    self.message_user(request, f"“{title}”: {error.message}", messages.WARNING)
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


class VisibilityFilter(admin.SimpleListFilter):
    title = _("visibility")
    parameter_name = "visibility"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("shown", _("Shown")), ("hidden", _("Hidden"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        if self.value() == "shown":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "hidden":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Posts searched by text, author and thread; hidden and restored through the thread services."""

    list_display = ["excerpt", "thread", "author_name", "position", "created_at", "visibility"]
    list_display_links = ["excerpt"]
    list_select_related = ["thread", "author"]
    list_filter = [VisibilityFilter, "thread__forum", "created_at"]
    search_fields = ["body", "author__username", "thread__title"]
    search_help_text = _("Finds posts by their text, their author's name or their thread's title.")
    ordering = ["-pk"]
    # Counting a large table twice per page is the slowest part of a changelist; once is enough.
    show_full_result_count = False
    fields = _POST_FIELDS
    readonly_fields = _POST_FIELDS
    actions = ["hide_posts", "restore_posts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False  # the text is its author's; moderators edit it on the site, where it is kept

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False  # posts are hidden (and restored), never deleted for good here

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        """Who sees the hide and restore actions: the engine's moderators."""
        return _may_moderate(request)

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        rows: list[Post] = list(changelist.result_list)
        names = member_names([row.deleted_by_id for row in rows])
        for row in rows:
            setattr(row, _HIDDEN_BY, names.get(row.deleted_by_id or 0, ""))
        changelist.result_list = rows
        return changelist

    @admin.display(description=_("text"))
    def excerpt(self, obj: Post) -> str:
        return _excerpt(obj.body)

    @admin.display(description=_("author"), ordering="author__username")
    def author_name(self, obj: Post) -> str:
        return obj.author.username

    @admin.display(description=_("visibility"), ordering="deleted_at")
    def visibility(self, obj: Post) -> str:
        hidden_by = getattr(obj, _HIDDEN_BY, None)
        if hidden_by is None:  # one post's page: one lookup
            hidden_by = member_names([obj.deleted_by_id]).get(obj.deleted_by_id or 0, "")
        return _visibility(obj, hidden_by)

    @admin.display(description=_("thread"))
    def thread_link(self, obj: Post) -> str:
        url = reverse("admin:thread_thread_change", args=[obj.thread_id])
        return format_html('<a href="{}">{}</a>', url, obj.thread.title)

    @admin.display(description=_("on the site"))
    def site_link(self, obj: Post) -> str:
        url = reverse("thread-post", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, url)

    def _moderate(self, request: HttpRequest, queryset: QuerySet[Post], *, hide: bool) -> None:
        moderator_id = int(request.user.pk or 0)
        done: list[str] = []
        unchanged: list[str] = []
        for post in queryset.select_related("thread", "author").order_by("pk"):
            label = _post_label(post)
            if (post.deleted_at is not None) == hide:
                unchanged.append(label)
                continue
            try:
                if hide:
                    post_delete(user_id=moderator_id, post_id=post.pk)
                else:
                    post_restore(moderator_id=moderator_id, post_id=post.pk)
            except ApplicationError as error:
                self.message_user(request, f"{label}: {error.message}", messages.WARNING)
            else:
                done.append(label)
        if done:
            message = (
                ngettext("Hidden: %(posts)s.", "Hidden %(count)d posts: %(posts)s.", len(done))
                if hide
                else ngettext("Restored: %(posts)s.", "Restored %(count)d posts: %(posts)s.", len(done))
            )
            self.message_user(
                request, message % {"count": len(done), "posts": _named(done)}, messages.SUCCESS
            )
        if unchanged:
            message = (
                ngettext(
                    "Already hidden, left as it was: %(posts)s.",
                    "Already hidden, left as they were: %(posts)s.",
                    len(unchanged),
                )
                if hide
                else ngettext(
                    "Not hidden, left as it was: %(posts)s.",
                    "Not hidden, left as they were: %(posts)s.",
                    len(unchanged),
                )
            )
            self.message_user(request, message % {"posts": _named(unchanged)}, messages.WARNING)

    @admin.action(description=_("Hide the selected posts"), permissions=["moderate"])
    def hide_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self._moderate(request, queryset, hide=True)

    @admin.action(description=_("Restore the selected hidden posts"), permissions=["moderate"])
    def restore_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self._moderate(request, queryset, hide=False)


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For staff lookups (who keeps which post, searched by username or post id): read-only, but staff
    with the delete permission may delete. Members' drafts are not in the admin: unsent text is its
    writer's alone."""

    list_display = ["id", "user", "post", "note", "created_at"]
    list_select_related = ["user", "post__thread"]
    search_fields = ["user__username", "post__id__exact"]
    readonly_fields = [field.name for field in Bookmark._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members bookmark on the site or through the API

    def has_change_permission(self, request: HttpRequest, obj: Bookmark | None = None) -> bool:
        return False
