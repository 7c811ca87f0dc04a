"""Pages of the thread app, mounted at the site's root (the forum index is the home page)."""

from django.urls import path

from apps.thread import views

urlpatterns = [
    path("", views.index, name="home"),
    path("forums/<int:forum_id>/", views.forum_detail, name="thread-forum"),
    path("forums/<int:forum_id>/new/", views.thread_new, name="thread-new"),
    path("threads/<int:thread_id>/", views.thread_detail, name="thread-detail"),
    path("threads/<int:thread_id>/reply/", views.post_new, name="thread-reply"),
    path("threads/<int:thread_id>/moderate/", views.thread_moderate, name="thread-moderate"),
    path("posts/<int:post_id>/", views.post_goto, name="thread-post"),
    path("posts/<int:post_id>/edit/", views.post_edit, name="thread-post-edit"),
    path("posts/<int:post_id>/delete/", views.post_delete, name="thread-post-delete"),
    path("posts/<int:post_id>/react/", views.post_react, name="thread-post-react"),
    path("posts/<int:post_id>/reactions/", views.post_reactions, name="thread-post-reactions"),
    path("posts/<int:post_id>/quote/", views.post_quote, name="thread-post-quote"),
    path("posts/<int:post_id>/bookmark/", views.post_bookmark, name="thread-post-bookmark"),
    path("bookmarks/", views.bookmarks, name="thread-bookmarks"),
    path("threads/<int:thread_id>/draft/discard/", views.thread_draft_discard, name="thread-draft-discard"),
    path("forums/<int:forum_id>/draft/discard/", views.forum_draft_discard, name="forum-draft-discard"),
    path("posts/<int:post_id>/fragment/", views.post_fragment, name="thread-post-fragment"),
    path("attachments/<int:attachment_id>/<str:name>", views.attachment_download, name="thread-attachment"),
    path(
        "attachments/<int:attachment_id>/thumbnail/<str:name>",
        views.attachment_download,
        {"thumbnail": True},
        name="thread-attachment-thumbnail",
    ),
]
