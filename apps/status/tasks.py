"""Periodic work of the status app (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from apps.authorization.services import permission_scope
from apps.status.services import rules_evaluate_all, statuses_expire_due


@shared_task(name="status.expire_grants", acks_late=True, ignore_result=True)
def expire_grants() -> int:
    """Every minute: mark grants whose end has passed as expired and publish ``status.expired``."""
    return statuses_expire_due()


@shared_task(name="status.evaluate_rules", acks_late=True, ignore_result=True)
def evaluate_rules() -> int:
    """Daily: every member against the rules of the automatic statuses (days pass, grace periods end)."""
    with permission_scope():
        return rules_evaluate_all()
