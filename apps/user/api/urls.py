"""Public API routes of the user app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.user.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("members/<int:user_id>", views.MemberView.as_view(), name="member"),
    path("me/profile", views.MyProfileView.as_view(), name="me-profile"),
    path("me/avatar", views.MyAvatarView.as_view(), name="me-avatar"),
    # As the dialogs issue names it (with the trailing slash); PUT follows, DELETE stops following.
    path("users/<int:user_id>/follow/", views.FollowView.as_view(), name="user-follow"),
]
