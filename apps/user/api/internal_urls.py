"""Internal routes of the user app, mounted under /internal/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.user.api import internal

urlpatterns: list[URLPattern | URLResolver] = [
    path("users/lookup", internal.UsersLookupView.as_view(), name="users-lookup"),
    path("users/<int:user_id>", internal.UserBriefView.as_view(), name="user-brief"),
]
