"""API routes of the thread app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.thread.api import views

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
    path("moderation/threads", views.ModerationQueueView.as_view(), name="moderation-threads"),
]
