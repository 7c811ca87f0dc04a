"""API routes of the authorization app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.authorization.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/permissions", views.MyPermissionsView.as_view(), name="my-permissions"),
]
