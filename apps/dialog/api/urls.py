"""API routes of the dialog app, mounted under /api/v1/ by config.urls."""

from django.urls import URLPattern, URLResolver, path

from apps.dialog.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("dialogs", views.DialogListView.as_view(), name="dialogs"),
    path("dialogs/unread", views.DialogUnreadView.as_view(), name="dialogs-unread"),
    path("dialogs/blocks", views.DialogBlockListView.as_view(), name="dialog-blocks"),
    path("dialogs/blocks/<int:user_id>", views.DialogBlockView.as_view(), name="dialog-block"),
    path("dialogs/privacy", views.DialogPrivacyView.as_view(), name="dialog-privacy"),
    path("dialogs/settings", views.DialogSettingsView.as_view(), name="dialog-settings"),
    path("dialogs/preview", views.DialogNewPreviewView.as_view(), name="dialog-new-preview"),
    path("dialogs/<int:dialog_id>", views.DialogDetailView.as_view(), name="dialog"),
    path("dialogs/<int:dialog_id>/messages", views.DialogMessagesView.as_view(), name="dialog-messages"),
    path(
        "dialogs/<int:dialog_id>/messages/<int:message_id>",
        views.DialogMessageView.as_view(),
        name="dialog-message",
    ),
    path("dialogs/<int:dialog_id>/read", views.DialogReadView.as_view(), name="dialog-read"),
    path(
        "dialogs/<int:dialog_id>/participants",
        views.DialogParticipantsView.as_view(),
        name="dialog-participants",
    ),
    path(
        "dialogs/<int:dialog_id>/participants/<int:user_id>",
        views.DialogParticipantView.as_view(),
        name="dialog-participant",
    ),
    path(
        "dialogs/<int:dialog_id>/attachments",
        views.DialogAttachmentUploadView.as_view(),
        name="dialog-attachments",
    ),
    path(
        "dialogs/<int:dialog_id>/attachments/<int:attachment_id>",
        views.DialogAttachmentDiscardView.as_view(),
        name="dialog-attachment",
    ),
    path("dialogs/<int:dialog_id>/preview", views.DialogPreviewView.as_view(), name="dialog-preview"),
]
