"""Django configuration of the status app."""

from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "apps.status"
    label = "status"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.status import handlers  # noqa: F401  registers this app's event subscribers
        from apps.status.models import StatusRule
        from forum.versioned_cache import changed_committed

        # A rule saved or deleted (the admin) publishes no event: what is kept under the status scope
        # (the rules a profile's progress reads) goes once it commits.
        def rules_changed(**_kwargs: object) -> None:
            changed_committed("status")

        for signal, uid in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(rules_changed, sender=StatusRule, weak=False, dispatch_uid=f"status.rule.{uid}")
