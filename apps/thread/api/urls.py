"""API routes of the thread app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.views import APIView

from apps.thread.api import bookmarks, drafts, members, moderation, preview, views


def _also_with_slash(route: str, view: type[APIView], name: str) -> list[URLPattern]:
    """The route as the API spells its paths (no trailing slash), documented, and the same with a
    trailing slash, as the bookmarks and drafts issue wrote them, served alike and left out of the
    schema (``schema = None``) so that each operation is documented once."""
    undocumented = type(f"{view.__name__}WithSlash", (view,), {"schema": None})
    return [
        path(route, view.as_view(), name=name),
        path(f"{route}/", undocumented.as_view(), name=f"{name}-slash"),
    ]


urlpatterns: list[URLPattern | URLResolver] = [
    path("forums", views.ForumListView.as_view(), name="forums"),
    path("forums/<int:forum_id>/threads", views.ForumThreadsView.as_view(), name="forum-threads"),
    path("threads/<int:thread_id>", views.ThreadDetailView.as_view(), name="thread"),
    path("threads/<int:thread_id>/posts", views.ThreadPostsView.as_view(), name="thread-posts"),
    path("threads/<int:thread_id>/close", views.ThreadCloseView.as_view(), name="thread-close"),
    path("threads/<int:thread_id>/reopen", views.ThreadReopenView.as_view(), name="thread-reopen"),
    path("threads/<int:thread_id>/pin", views.ThreadPinView.as_view(), name="thread-pin"),
    path("threads/<int:thread_id>/unpin", views.ThreadUnpinView.as_view(), name="thread-unpin"),
    path("threads/<int:thread_id>/approve", views.ThreadApproveView.as_view(), name="thread-approve"),
    path("threads/<int:thread_id>/reject", views.ThreadRejectView.as_view(), name="thread-reject"),
    path("threads/<int:thread_id>/move", views.ThreadMoveView.as_view(), name="thread-move"),
    path("threads/<int:thread_id>/delete", views.ThreadDeleteView.as_view(), name="thread-delete"),
    path("posts/<int:post_id>", views.PostView.as_view(), name="post"),
    path("posts/<int:post_id>/reaction", views.PostReactionView.as_view(), name="post-reaction"),
    path("attachments", views.AttachmentUploadView.as_view(), name="attachments"),
    path("attachments/<int:attachment_id>", preview.AttachmentDiscardView.as_view(), name="attachment"),
    path("markup/preview", preview.MarkupPreviewView.as_view(), name="markup-preview"),
    path("moderation/threads", views.ModerationQueueView.as_view(), name="moderation-threads"),
    path("moderation/posts", moderation.PendingPostsView.as_view(), name="moderation-posts"),
    path("posts/<int:post_id>/approve", moderation.PostApproveView.as_view(), name="post-approve"),
    path("posts/<int:post_id>/reject", moderation.PostRejectView.as_view(), name="post-reject"),
    path("members/<int:user_id>/threads", members.MemberThreadsView.as_view(), name="member-threads"),
    path("members/<int:user_id>/posts", members.MemberPostsView.as_view(), name="member-posts"),
    *_also_with_slash("bookmarks", bookmarks.BookmarkListView, "bookmarks"),
    *_also_with_slash("posts/<int:post_id>/bookmark", bookmarks.PostBookmarkView, "post-bookmark"),
    *_also_with_slash("threads/<int:thread_id>/draft", drafts.ThreadDraftView, "thread-draft"),
    *_also_with_slash("forums/<int:forum_id>/draft", drafts.ForumDraftView, "forum-draft"),
]
