"""URL map of the whole forum: pages, API, schema, admin, health and metrics."""

import posixpath

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from forum import asyncapi, health, internal_auth, metrics, pages
from forum.search import views as search_views

api_v1 = [
    path("", include("forum.api_urls")),
    path("", include("apps.authorization.api.urls")),
    path("", include("apps.status.api.urls")),
    path("", include("apps.authentication.api.urls")),
    path("", include("apps.thread.api.urls")),
    path("", include("apps.user.api.urls")),
    path("", include("apps.notification.api.urls")),
    path("", include("apps.dialog.api.urls")),
    path("", include("apps.support.api.urls")),
    path("", include("apps.admin.api.urls")),
    path("", include("apps.payment.api.urls")),
    path("", include("apps.frame.api.urls")),
]

# Service-to-service endpoints: signed calls only (forum.internal_auth), kept out of the public schema.
internal_v1 = [
    path("", include("apps.user.api.internal_urls")),
]

urlpatterns = [
    path("", include("apps.thread.urls")),
    path("search/", search_views.search_page, name="search"),
    path("", include("apps.user.urls")),
    path("", include("apps.dialog.urls")),
    path("", include("apps.support.urls")),
    path("", include("apps.admin.urls")),
    path("", include("apps.frame.urls")),
    path("", include("apps.payment.urls")),
    path("", include("apps.status.urls")),
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
    # The WebSocket protocol (/ws/) as an AsyncAPI 3.0 document (forum/asyncapi.py).
    path("api/asyncapi.yaml", asyncapi.asyncapi_yaml, name="api-asyncapi"),
    path("api/asyncapi.json", asyncapi.asyncapi_json, name="api-asyncapi-json"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
]


def public_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """A file of MEDIA_ROOT, the public media (avatars, frames), for the development server.

    Attachments are not there: they live in STORAGES["private"] (outside MEDIA_ROOT), which only
    their apps' views read, after the permission check of the post or dialog they belong to. A copy
    made before that may still hold attachments/ in MEDIA_ROOT, so that folder is refused as well,
    judged on the path ``serve`` would open ("//attachments", "./attachments" and "%2Fattachments"
    all lead there), not on how the URL spells it, and in any case (macOS disks ignore it).
    """
    if posixpath.normpath("/" + path).lstrip("/").split("/", 1)[0].casefold() == "attachments":
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)


# Served by the development server only (DEBUG); nginx serves /media/ in production.
media_urlpatterns = [re_path(r"^media/(?P<path>.*)$", public_media)]

if settings.DEBUG:
    urlpatterns += media_urlpatterns

# The development regtest chain's Esplora API (apps/payment/chain.py): never in production.
if settings.PAYMENT_DEV_CHAIN:
    urlpatterns += [path("dev/esplora/", include("apps.payment.esplora_views"))]

handler400 = pages.bad_request
handler403 = pages.permission_denied
handler404 = pages.page_not_found
handler500 = pages.server_error
