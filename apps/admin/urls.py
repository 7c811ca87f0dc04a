"""Pages of the moderation app, mounted at the site's root by config/urls.py (/warnings/...)."""

from django.urls import path

from apps.admin import views

app_name = "moderation"

urlpatterns = [
    path("warnings/", views.my_warnings, name="warnings"),
    path("warnings/<int:warning_id>/appeal/", views.warning_appeal, name="warning-appeal"),
    path("moderation/", views.moderation_queue, name="queue"),
    # On a support ticket's page, but the acts are moderation: this app owns them.
    path("support/tickets/<int:ticket_id>/act/", views.ticket_act, name="ticket-act"),
]
