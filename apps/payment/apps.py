"""Django configuration of the payment app."""

from django.apps import AppConfig


class PaymentConfig(AppConfig):
    name = "apps.payment"
    label = "payment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.payment import handlers  # registers this app's event subscribers; its topic check
        from apps.payment.metrics import payment_metrics, readiness_detail
        from apps.payment.services import LIVE_TOPIC
        from forum.health import register_detail
        from forum.metrics import register_source
        from forum.realtime import register_topic

        # A checkout page follows its invoice live (seen, confirmations, settled); its owner only.
        register_topic(LIVE_TOPIC, handlers.invoice_topic_check)

        register_source("payment", payment_metrics)
        register_detail("payment", readiness_detail)
