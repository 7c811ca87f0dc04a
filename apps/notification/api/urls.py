"""API routes of the notification app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.notification.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications", views.NotificationListView.as_view(), name="notifications"),
    path("notifications/unread-count", views.UnreadCountView.as_view(), name="notifications-unread-count"),
    path("notifications/read-all", views.MarkAllReadView.as_view(), name="notifications-read-all"),
    path("notifications/<int:notification_id>/read", views.MarkReadView.as_view(), name="notification-read"),
    path("notifications/kinds", views.KindListView.as_view(), name="notification-kinds"),
    path("notifications/preferences", views.PreferencesView.as_view(), name="notification-preferences"),
    path("notifications/watching", views.WatchingView.as_view(), name="notification-watching"),
    path(
        "notifications/watch/threads/<int:target_id>",
        views.WatchThreadView.as_view(),
        name="notification-watch-thread",
    ),
    path(
        "notifications/watch/forums/<int:target_id>",
        views.WatchForumView.as_view(),
        name="notification-watch-forum",
    ),
]
