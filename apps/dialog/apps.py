"""Django configuration of the dialog app."""

from django.apps import AppConfig


class DialogConfig(AppConfig):
    name = "apps.dialog"
    label = "dialog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.dialog import handlers, search_documents  # handlers registers the subscribers
        from apps.dialog.services import permissions_declare
        from forum.realtime import register_topic

        permissions_declare()
        # "typing…" hints between the participants of one dialog: whispers, never stored.
        register_topic("dialog", handlers.topic_check, allow_whisper=True)
        # Messages are found by their participants through the kernel's search (search_documents.py).
        search_documents.register()
