"""API routes of the support app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.support.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("support/topics", views.SupportTopicListView.as_view(), name="support-topics"),
    path("support/tickets", views.SupportTicketListView.as_view(), name="support-tickets"),
    path("support/queue", views.SupportQueueView.as_view(), name="support-queue"),
    path("support/tickets/<int:ticket_id>", views.SupportTicketDetailView.as_view(), name="support-ticket"),
    path(
        "support/tickets/<int:ticket_id>/messages",
        views.SupportTicketMessagesView.as_view(),
        name="support-ticket-messages",
    ),
    path(
        "support/tickets/<int:ticket_id>/resolve",
        views.SupportReportResolveView.as_view(),
        name="support-resolve",
    ),
    path(
        "support/tickets/<int:ticket_id>/evidence",
        views.SupportEvidenceView.as_view(),
        name="support-evidence",
    ),
    path("support/canned-replies", views.SupportCannedReplyListView.as_view(), name="support-canned-replies"),
    path("support/reports", views.SupportReportListView.as_view(), name="support-reports"),
    path("support/attachments", views.SupportAttachmentUploadView.as_view(), name="support-attachments"),
    path(
        "support/attachments/<int:attachment_id>",
        views.SupportAttachmentDiscardView.as_view(),
        name="support-attachment",
    ),
]
