"""The kernel's periodic tasks: resend what the outbox still holds, prune what was delivered and the
idempotency keys past their day."""

from celery import shared_task

from forum import bus, idempotency


@shared_task(name="forum.sweep_outbox", acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    return bus.sweep_outbox()


@shared_task(name="forum.prune_outbox", acks_late=True, ignore_result=True)
def prune_outbox() -> tuple[int, int]:
    return bus.prune_outbox()


@shared_task(name="forum.prune_idempotency_keys", acks_late=True, ignore_result=True)
def prune_idempotency_keys() -> int:
    return idempotency.prune_keys()
