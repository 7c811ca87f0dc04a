"""API routes of /api/v1/: each app's API is mounted here by config (none yet)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
