"""API routes of the frame app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.frame.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("frames", views.FrameListView.as_view(), name="frames"),
    path("frames/<int:frame_id>/buy", views.FrameBuyView.as_view(), name="frame-buy"),
    path("me/frames", views.MyFramesView.as_view(), name="my-frames"),
    path("me/frame", views.WornFrameView.as_view(), name="my-frame"),
]
