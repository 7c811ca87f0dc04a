"""Django configuration of the support app."""

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "apps.support"
    label = "support"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.support import handlers  # registers this app's event subscribers; its topic checks
        from apps.support.metrics import sla_metrics
        from apps.support.services import (
            STAFF_TOPIC,
            TOPIC,
            notification_kinds_register,
            permissions_declare,
        )
        from forum.metrics import register_source
        from forum.realtime import register_topic

        permissions_declare()
        notification_kinds_register()
        # A ticket's page live for both sides; internal notes reach only the staff's side.
        register_topic(TOPIC, handlers.ticket_topic_check)
        register_topic(STAFF_TOPIC, handlers.ticket_staff_topic_check)
        register_source("support_sla", sla_metrics)
