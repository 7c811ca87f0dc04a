"""Pages of the thread app."""

from django.urls import path

from apps.thread import views

urlpatterns = [path("", views.index, name="home")]
