"""Django configuration of the admin (moderation) app."""

from django.apps import AppConfig


class AdminConfig(AppConfig):
    name = "apps.admin"
    label = "forum_admin"
    verbose_name = "Moderation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.admin import handlers  # noqa: F401  registers this app's event subscribers
        from apps.admin.bans import signin_check, signup_check
        from apps.admin.queue_count import TOPIC_PREFIX, queue_topic_check
        from apps.admin.services import (
            active_warning_points,
            notification_kinds_register,
            permissions_declare,
        )
        from apps.admin.ticket_acts import ticket_actions_panel
        from apps.authentication.services import signin_check_register, signup_check_register
        from apps.status.services import rule_fact_register
        from apps.support.services import ticket_panel_register
        from forum.realtime import register_topic

        permissions_declare()
        notification_kinds_register()
        # The authentication app cannot import this one (it sits below it): the checks are handed in.
        signin_check_register("moderation.ban", signin_check)
        signup_check_register("moderation.ban", signup_check)
        # The status app's rule "active warning points at most N" reads them; it cannot import this app.
        rule_fact_register("warning_points_max", active_warning_points)
        # The support app's ticket page shows the moderation acts; it cannot import this app.
        ticket_panel_register(
            "moderation.acts", template="moderation/_ticket_actions.html", provider=ticket_actions_panel
        )
        # The moderation queue's live count in the staff header (staff only).
        register_topic(TOPIC_PREFIX, queue_topic_check)
