"""Pages of the dialog app, mounted at the site's root by config/urls.py (/dialogs/...)."""

from django.urls import path

from apps.dialog import views

app_name = "dialog"

urlpatterns = [
    path("dialogs/", views.dialog_list, name="list"),
    path("dialogs/new/", views.dialog_new, name="new"),
    path("dialogs/settings/", views.dialog_settings, name="settings"),
    path("dialogs/blocks/", views.blocks, name="blocks"),
    path("dialogs/blocks/<int:user_id>/unblock/", views.unblock, name="unblock"),
    path("dialogs/<int:dialog_id>/", views.dialog_detail, name="detail"),
    path("dialogs/<int:dialog_id>/send/", views.message_new, name="send"),
    path("dialogs/<int:dialog_id>/participants/", views.participants_add, name="participants-add"),
    path(
        "dialogs/<int:dialog_id>/participants/<int:user_id>/remove/",
        views.participant_remove,
        name="participant-remove",
    ),
    path("dialogs/<int:dialog_id>/leave/", views.dialog_leave, name="leave"),
    path("dialogs/<int:dialog_id>/rename/", views.dialog_rename, name="rename"),
    path("dialogs/messages/<int:message_id>/edit/", views.message_edit, name="message-edit"),
    path("dialogs/messages/<int:message_id>/delete/", views.message_delete, name="message-delete"),
    path("dialogs/attachments/<int:attachment_id>/<str:name>", views.attachment_download, name="attachment"),
    path(
        "dialogs/attachments/<int:attachment_id>/thumbnail/<str:name>",
        views.attachment_download,
        {"thumbnail": True},
        name="attachment-thumbnail",
    ),
]
