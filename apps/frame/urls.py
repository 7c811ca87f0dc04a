"""Pages of the frame app, mounted at the site's root by config/urls.py."""

from django.urls import path

from apps.frame import views

app_name = "frame"

urlpatterns = [
    path("frames/", views.catalogue, name="catalogue"),
    path("frames/mine/", views.mine, name="mine"),
    path("frames/wear/", views.equip, name="equip"),
    path("frames/<int:frame_id>/buy/", views.buy, name="buy"),
    path(
        "frames/<int:frame_id>/image/<str:version>.<str:extension>",
        views.image,
        name="image",
    ),
]
