"""Django configuration of the payment app."""

from django.apps import AppConfig


class PaymentConfig(AppConfig):
    name = "apps.payment"
    label = "payment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.payment import handlers  # noqa: F401  registers this app's event subscribers
