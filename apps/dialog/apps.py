"""Django configuration of the dialog app."""

from django.apps import AppConfig


class DialogConfig(AppConfig):
    name = "apps.dialog"
    label = "dialog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.dialog import handlers  # registers this app's event subscribers
        from apps.dialog.services import permissions_declare
        from forum.realtime import register_topic

        permissions_declare()
        # "typing…" hints between the participants of one dialog: whispers, never stored.
        register_topic("dialog", handlers.topic_check, allow_whisper=True)
