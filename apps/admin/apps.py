"""Django configuration of the admin app."""

from django.apps import AppConfig


class AdminConfig(AppConfig):
    name = "apps.admin"
    label = "forum_admin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.admin import handlers  # noqa: F401  registers this app's event subscribers
