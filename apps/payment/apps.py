"""Django configuration of the payment app."""

from django.apps import AppConfig


class PaymentConfig(AppConfig):
    name = "apps.payment"
    label = "payment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.payment import handlers  # noqa: F401  registers this app's event subscribers
        from apps.payment.metrics import payment_metrics, readiness_detail
        from forum.health import register_detail
        from forum.metrics import register_source

        register_source("payment", payment_metrics)
        register_detail("payment", readiness_detail)
