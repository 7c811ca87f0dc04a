"""The sign-up mail goes out from a real Celery worker, after the request's transaction committed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import close_old_connections
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD, signed_in_id, token_of
from forum.models import OutboxEvent
from forum.testing import processes

pytestmark = pytest.mark.slow

LINK = re.compile(r"http://testserver(/accounts/verify/\S+/)")


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 60.0, db: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db:
            close_old_connections()  # see what the worker committed since
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def worker(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    """A worker on this run's own authentication queue, mailing to its console (its log)."""
    prefix = processes.unique_prefix()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix):
        with django_db_blocker.unblock():
            env = processes.child_env(EMAIL_URL="consolemail://")
        child = processes.start_child(
            "worker",
            processes.celery_worker_command(queues=["authentication"], concurrency=1),
            env=env,
            log_dir=tmp_path_factory.mktemp("auth-worker"),
        )
        try:
            wait_until(lambda: "ready" in child.log(), what="the worker to be ready", db=False)
            yield child
        finally:
            child.stop()


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_is_mailed_by_the_worker_and_its_link_makes_the_account(worker: processes.Child) -> None:
    api = APIClient()
    response = api.post(
        "/api/v1/auth/signup",
        {"username": "walter", "email": "walter@example.com", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 202

    wait_until(
        lambda: "walter@example.com" in worker.log() and LINK.search(worker.log()) is not None,
        what="the mail",
    )
    assert OutboxEvent.objects.get(name="authentication.signup_requested").dispatched_at is not None
    link = LINK.search(worker.log())
    assert link is not None

    confirmed = api.post("/api/v1/auth/email/verify", {"token": token_of(link.group(1))}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    user = User.objects.get(username="walter")
    assert user.email_verified and user.check_password(PASSWORD)
    assert signed_in_id(api) == user.pk
