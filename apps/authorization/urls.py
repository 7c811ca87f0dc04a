"""Pages of the authorization app, mounted under /accounts/ by config/urls.py."""

from django.urls import path

from apps.authorization import views

app_name = "authorization"

urlpatterns = [
    path("sessions/", views.sessions_page, name="sessions"),
    path("sessions/end-others/", views.sessions_end_others, name="sessions-end-others"),
    path("sessions/<uuid:session_id>/end/", views.session_end, name="session-end"),
]
