"""Pages of the notification app, mounted under /notifications/ by config/urls.py."""

from django.urls import path

from apps.notification import views

app_name = "notification"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("dropdown/", views.dropdown, name="dropdown"),
    path("read-all/", views.mark_all_read, name="read-all"),
    path("preferences/", views.preferences, name="preferences"),
    path("<int:notification_id>/open/", views.notification_open, name="open"),
    path("<int:notification_id>/read/", views.mark_read, name="read"),
    path(
        "watch/thread/<int:target_id>/",
        views.watch,
        {"target": "thread", "watching": True},
        name="watch-thread",
    ),
    path(
        "unwatch/thread/<int:target_id>/",
        views.watch,
        {"target": "thread", "watching": False},
        name="unwatch-thread",
    ),
    path(
        "watch/forum/<int:target_id>/", views.watch, {"target": "forum", "watching": True}, name="watch-forum"
    ),
    path(
        "unwatch/forum/<int:target_id>/",
        views.watch,
        {"target": "forum", "watching": False},
        name="unwatch-forum",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
