"""URL map of the benchmark server: the bench pages and the liveness check, nothing else.

Served only when the benchmark starts a server with ``FORUM_ROOT_URLCONF=forum.bench.urls``; the
production URL map (``config.urls``) never includes it.
"""

from django.urls import path

from forum import health
from forum.bench import views

urlpatterns = [
    path("bench/bare", views.bare, name="bench-bare"),
    path("bench/forum/<int:forum_id>", views.forum_page, name="bench-forum"),
    path("bench/wait", views.wait, name="bench-wait"),
    path("health/live", health.live, name="health-live"),
]
