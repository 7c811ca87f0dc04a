"""API routes of /api/v1/ that the kernel owns; each app's API is mounted beside them by config."""

from django.urls import URLPattern, URLResolver, path

from forum import api
from forum.search import api as search_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("meta", api.MetaView.as_view(), name="meta"),
    path("language", api.LanguageView.as_view(), name="language"),
    path("search", search_api.SearchView.as_view(), name="search"),
    path("members/lookup", search_api.MemberLookupView.as_view(), name="members-lookup"),
]
