"""URL map of the whole forum: pages, API, schema, admin, health and metrics."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from forum import health, internal_auth, metrics, pages

api_v1 = [
    path("", include("forum.api_urls")),
    path("", include("apps.authorization.api.urls")),
    path("", include("apps.status.api.urls")),
    path("", include("apps.authentication.api.urls")),
    path("", include("apps.thread.api.urls")),
    path("", include("apps.user.api.urls")),
    path("", include("apps.notification.api.urls")),
    path("", include("apps.dialog.api.urls")),
]

# Service-to-service endpoints: signed calls only (forum.internal_auth), kept out of the public schema.
internal_v1 = [
    path("", include("apps.user.api.internal_urls")),
]

urlpatterns = [
    path("", include("apps.thread.urls")),
    path("", include("apps.user.urls")),
    path("", include("apps.dialog.urls")),
    path("notifications/", include("apps.notification.urls")),
    path("accounts/", include("apps.authentication.urls")),
    path("accounts/", include("apps.authorization.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("internal/v1/", include((internal_v1, "internal"), namespace="internal-v1")),
    # Whatever else is under /internal/ answers the JSON 404 (and is still refused unsigned).
    re_path(r"^internal/", internal_auth.internal_not_found),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DEBUG:
    # Public media only (avatars, frames): attachments are served by their apps' views, after the
    # permission check of the post or dialog they belong to, never by a guessable URL.
    urlpatterns += [
        re_path(r"^media/(?!attachments/)(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    ]

handler400 = pages.bad_request
handler403 = pages.permission_denied
handler404 = pages.page_not_found
handler500 = pages.server_error
