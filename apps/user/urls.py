"""Profile pages, mounted at the site's root by config/urls.py (/members/... and /accounts/profile/)."""

from django.urls import path

from apps.user import views

app_name = "user"

urlpatterns = [
    path("members/<int:user_id>/", views.profile, name="profile"),
    path("members/<int:user_id>/threads/", views.threads, name="threads"),
    path("members/<int:user_id>/follow/", views.follow_toggle, name="follow"),
    path("members/<int:user_id>/posts/", views.posts, name="posts"),
    path("members/<int:user_id>/avatar/<str:version>.webp", views.avatar, name="avatar"),
    path("accounts/profile/", views.profile_edit, name="profile-edit"),
    path("accounts/profile/avatar/", views.avatar_upload, name="avatar-upload"),
    path("accounts/profile/avatar/delete/", views.avatar_delete, name="avatar-delete"),
]
