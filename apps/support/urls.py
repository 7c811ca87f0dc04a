"""Pages of the support app, mounted at the site's root by config/urls.py (/support/..., /report/)."""

from django.urls import path

from apps.support import views

app_name = "support"

urlpatterns = [
    path("support/", views.ticket_list, name="index"),
    path("support/new/", views.ticket_new, name="new"),
    path("support/queue/", views.queue, name="queue"),
    path("support/tickets/<int:ticket_id>/", views.ticket_detail, name="ticket"),
    path("support/tickets/<int:ticket_id>/live/", views.ticket_live, name="ticket-live"),
    path("support/tickets/<int:ticket_id>/reply/", views.ticket_reply, name="reply"),
    path("support/tickets/<int:ticket_id>/state/", views.ticket_state, name="state"),
    path("support/tickets/<int:ticket_id>/priority/", views.ticket_priority, name="priority"),
    path("support/tickets/<int:ticket_id>/assign/", views.ticket_assign, name="assign"),
    path("support/tickets/<int:ticket_id>/resolve/", views.report_resolve, name="resolve"),
    path("support/tickets/<int:ticket_id>/evidence/", views.ticket_evidence, name="evidence"),
    path("support/attachments/<int:attachment_id>/<str:name>", views.attachment_download, name="attachment"),
    path(
        "support/attachments/<int:attachment_id>/thumbnail/<str:name>",
        views.attachment_download,
        {"thumbnail": True},
        name="attachment-thumbnail",
    ),
    path("report/", views.report, name="report"),
]
