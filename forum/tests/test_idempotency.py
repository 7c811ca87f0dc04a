"""Idempotency-Key on the API's writes (forum/idempotency.py), through the real endpoints.

A retry with the same key and request gets the first answer and writes nothing more; another request
with the key is refused; a refused or failed call keeps no key; concurrent duplicates wait for each
other; anonymous calls and secret-bearing paths ignore the header; keys are pruned after their day.
The kernel imports no app, so the data is made as members make it: through the API.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum import idempotency
from forum.models import IdempotencyKey, OutboxEvent
from forum.testing.fixtures import local_upload_storages
from forum.tests.test_faults import PASSWORD, api, forum_and_thread, new_member, signed_in_client

__all__ = ["forum_and_thread"]  # a fixture, imported to be found

REPLAYED = "Idempotent-Replayed"


def keyed(client: Client, method: str, path: str, body: dict[str, Any] | None, key: str, **extra: Any) -> Any:
    send: Callable[..., Any] = getattr(client, method)
    return send(path, body or {}, content_type="application/json", headers={"Idempotency-Key": key}, **extra)


def new_key() -> str:
    return str(uuid.uuid4())


def bodies(client: Client, thread_id: int) -> list[str]:
    answer = api(client, "get", f"/api/v1/threads/{thread_id}/posts")
    return [post["body"] for post in answer.json()["posts"]]


@pytest.fixture
def thread_id(forum_and_thread: dict[str, int]) -> int:
    return forum_and_thread["thread"]


@pytest.fixture
def member() -> Client:
    return signed_in_client(new_member()[0])


# --- Retries -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_retried_reply_gets_the_first_answer_and_posts_once(thread_id: int, member: Client) -> None:
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    first = keyed(member, "post", path, {"body": "Only once, please"}, key)
    assert first.status_code == 201 and first.get(REPLAYED) is None
    events = OutboxEvent.objects.count()

    again = keyed(member, "post", path, {"body": "Only once, please"}, key)
    assert again.status_code == 201
    assert again.content == first.content and again["Content-Type"] == first["Content-Type"]
    assert again[REPLAYED] == "true"
    assert bodies(member, thread_id).count("Only once, please") == 1
    assert OutboxEvent.objects.count() == events  # and nothing was published again


@pytest.mark.django_db(transaction=True)
def test_the_same_key_with_another_request_is_refused(thread_id: int, member: Client) -> None:
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    assert keyed(member, "post", path, {"body": "First"}, key).status_code == 201
    refused = keyed(member, "post", path, {"body": "Something else"}, key)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert "Something else" not in bodies(member, thread_id)
    # The same body to another address is another request too.
    other = keyed(member, "post", f"{path}?page=2", {"body": "First"}, key)
    assert other.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_keys_belong_to_their_member(thread_id: int, member: Client) -> None:
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    assert keyed(member, "post", path, {"body": "Mine"}, key).status_code == 201
    someone = signed_in_client(new_member()[0])
    theirs = keyed(someone, "post", path, {"body": "Mine"}, key)
    assert theirs.status_code == 201 and theirs.get(REPLAYED) is None
    assert bodies(member, thread_id).count("Mine") == 2


@pytest.mark.django_db(transaction=True)
def test_a_dialog_and_its_message_are_written_once(member: Client) -> None:
    friend, _name = new_member()
    start_key, message_key = new_key(), new_key()
    started = keyed(
        member, "post", "/api/v1/dialogs", {"participant_ids": [friend], "body": "Hello"}, start_key
    )
    assert started.status_code == 201
    replayed = keyed(
        member, "post", "/api/v1/dialogs", {"participant_ids": [friend], "body": "Hello"}, start_key
    )
    assert replayed[REPLAYED] == "true" and replayed.content == started.content
    dialog_id = started.json()["id"]

    path = f"/api/v1/dialogs/{dialog_id}/messages"
    sent = keyed(member, "post", path, {"body": "Are you there?"}, message_key)
    assert sent.status_code == 201
    assert keyed(member, "post", path, {"body": "Are you there?"}, message_key)[REPLAYED] == "true"
    messages = api(member, "get", path).json()["messages"]
    assert [message["body"] for message in messages] == ["Hello", "Are you there?"]


@pytest.mark.django_db(transaction=True)
def test_a_reaction_is_set_once(thread_id: int, member: Client) -> None:
    post_id = keyed(
        member, "post", f"/api/v1/threads/{thread_id}/posts", {"body": "React"}, new_key()
    ).json()["id"]
    reader = signed_in_client(new_member()[0])
    key = new_key()
    first = keyed(reader, "put", f"/api/v1/posts/{post_id}/reaction", {"kind": "like"}, key)
    assert first.status_code == 200 and first.json()["counts"] == {"like": 1}
    events = OutboxEvent.objects.count()
    again = keyed(reader, "put", f"/api/v1/posts/{post_id}/reaction", {"kind": "like"}, key)
    assert again[REPLAYED] == "true" and again.content == first.content
    assert OutboxEvent.objects.count() == events


# --- What keeps no key ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_refused_call_keeps_no_key_and_may_be_sent_again(thread_id: int, member: Client) -> None:
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    refused = keyed(member, "post", path, {"body": ""}, key)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    assert not IdempotencyKey.objects.filter(key=key).exists()
    fixed = keyed(member, "post", path, {"body": "Fixed"}, key)
    assert fixed.status_code == 201 and fixed.get(REPLAYED) is None


class CrashAfterTheView:
    """Stands for a process that dies after the view wrote and before the answer went out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("X-Test-Crash"):
            raise RuntimeError("the process dies after the view")
        return response


@pytest.mark.django_db(transaction=True)
def test_a_call_that_fails_after_writing_leaves_neither_the_write_nor_the_key(
    thread_id: int, member: Client, settings: Any
) -> None:
    index = settings.MIDDLEWARE.index("forum.idempotency.IdempotencyMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: index + 1],
        f"{__name__}.CrashAfterTheView",
        *settings.MIDDLEWARE[index + 1 :],
    ]
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    crashing = Client(raise_request_exception=False)
    crashing.cookies = member.cookies
    events = OutboxEvent.objects.count()
    failed = keyed(crashing, "post", path, {"body": "Lost in the crash"}, key, HTTP_X_TEST_CRASH="1")
    assert failed.status_code == 500
    assert "Lost in the crash" not in bodies(member, thread_id)
    assert not IdempotencyKey.objects.filter(key=key).exists()
    assert OutboxEvent.objects.count() == events

    retried = keyed(member, "post", path, {"body": "Lost in the crash"}, key)
    assert retried.status_code == 201 and retried.get(REPLAYED) is None
    assert bodies(member, thread_id).count("Lost in the crash") == 1


@pytest.mark.django_db(transaction=True)
def test_anonymous_calls_and_secret_answers_ignore_the_header(thread_id: int) -> None:
    _user_id, username = new_member()
    key = new_key()
    guest = Client()
    # No caller, no key: the view answers as it would without the header.
    refused = keyed(guest, "post", f"/api/v1/threads/{thread_id}/posts", {"body": "Hi"}, key)
    assert refused.status_code == 401
    for _attempt in range(2):
        answer = keyed(guest, "post", "/api/v1/language", {"language": "en"}, key)
        assert answer.status_code == 200 and answer.get(REPLAYED) is None
    # A member signing in again for tokens: the answer carries secrets, which are never stored.
    member = signed_in_client(_user_id)
    tokens = [
        keyed(member, "post", "/api/v1/auth/token", {"login": username, "password": PASSWORD}, key)
        for _n in range(2)
    ]
    assert [answer.status_code for answer in tokens] == [200, 200]
    assert tokens[0].json()["access"] != tokens[1].json()["access"]
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_bearer_token_caller_is_recognised_and_a_refused_token_keeps_no_key(thread_id: int) -> None:
    _user_id, username = new_member()
    access = api(Client(), "post", "/api/v1/auth/token", {"login": username, "password": PASSWORD}).json()[
        "access"
    ]
    app = Client(headers={"Authorization": f"Bearer {access}"})
    key = new_key()
    path = f"/api/v1/threads/{thread_id}/posts"
    first = keyed(app, "post", path, {"body": "From the app"}, key)
    assert first.status_code == 201
    assert keyed(app, "post", path, {"body": "From the app"}, key)[REPLAYED] == "true"
    assert IdempotencyKey.objects.filter(key=key, member_id=_user_id).exists()

    forged = Client(headers={"Authorization": "Bearer not-a-token"})
    refused = keyed(forged, "post", path, {"body": "Forged"}, new_key())
    assert refused.status_code == 401
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_refused_and_nothing_is_written(thread_id: int, member: Client, key: str) -> None:
    answer = keyed(member, "post", f"/api/v1/threads/{thread_id}/posts", {"body": "Malformed"}, key)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_idempotency_key"
    assert "Malformed" not in bodies(member, thread_id)


@pytest.mark.django_db(transaction=True)
def test_an_upload_too_large_to_fingerprint_is_refused_with_the_key_only(
    member: Client, settings: Any, tmp_path: Path
) -> None:
    """Bodies are fingerprinted in memory; Django keeps at most DATA_UPLOAD_MAX_MEMORY_SIZE there, and
    only uploads (whose files it streams to disk) may be bigger."""
    local_upload_storages(settings, tmp_path)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    def notes() -> SimpleUploadedFile:
        return SimpleUploadedFile("notes.txt", b"notes " * 1000, content_type="text/plain")

    refused = member.post("/api/v1/attachments", {"file": notes()}, headers={"Idempotency-Key": new_key()})
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "idempotency_body_too_large"
    assert member.post("/api/v1/attachments", {"file": notes()}).status_code == 201


# --- Concurrent duplicates ------------------------------------------------------------------------------
def wait_for_a_lock_wait(*, timeout: float = 30.0) -> None:
    """Until another backend of this test database waits on a lock (the duplicate, on the unique index)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the duplicate never waited for the first call")


@pytest.fixture
def first_call_in_flight(member: Client, thread_id: int) -> Iterator[Callable[..., Any]]:
    """Holds a key as a first call still running would: the row inserted, the transaction open."""
    threads: list[threading.Thread] = []

    def hold(key: str, body: dict[str, Any], *, then: str) -> Any:
        request = RequestFactory().post(
            f"/api/v1/threads/{thread_id}/posts", body, content_type="application/json"
        )
        fingerprint = idempotency._fingerprint(request, request.body)
        member_id = int(member.session["_auth_user_id"])
        ready, finish = threading.Event(), threading.Event()

        def first() -> None:
            try:
                with transaction.atomic():
                    claimed = idempotency._claim(member_id, key, fingerprint)
                    ready.set()
                    finish.wait(60)
                    if then == "rollback":
                        transaction.set_rollback(True)
                    else:
                        IdempotencyKey.objects.filter(id=claimed).update(
                            status=201, content_type="application/json", body=b'{"first": true}'
                        )
            finally:
                connection.close()

        thread = threading.Thread(target=first)
        threads.append(thread)
        thread.start()
        assert ready.wait(30)
        return finish

    yield hold
    for thread in threads:
        thread.join(60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_concurrent_duplicate_waits_for_the_first_call(
    first_ends: str, first_call_in_flight: Callable[..., Any], member: Client, thread_id: int
) -> None:
    key, body = new_key(), {"body": "Sent twice at once"}
    finish = first_call_in_flight(key, body, then=first_ends)
    answers: list[Any] = []

    def duplicate() -> None:
        try:
            answers.append(keyed(member, "post", f"/api/v1/threads/{thread_id}/posts", body, key))
        finally:
            connection.close()

    second = threading.Thread(target=duplicate)
    second.start()
    wait_for_a_lock_wait()
    assert not answers  # still waiting for the first call to end
    finish.set()
    second.join(60)
    [answer] = answers
    if first_ends == "commit":  # the first call's answer, and no second post
        assert answer.status_code == 201 and answer[REPLAYED] == "true" and answer.json() == {"first": True}
        assert "Sent twice at once" not in bodies(member, thread_id)
    else:  # the first call left nothing: the duplicate is the call
        assert answer.status_code == 201 and answer.get(REPLAYED) is None
        assert bodies(member, thread_id).count("Sent twice at once") == 1


# --- Cost, retention ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_without_the_header_the_middleware_runs_no_query() -> None:
    middleware = idempotency.IdempotencyMiddleware(lambda request: HttpResponse(status=201))
    request = RequestFactory().post("/api/v1/threads/1/posts", {"body": "x"}, content_type="application/json")
    with CaptureQueriesContext(connection) as queries:
        assert middleware(request).status_code == 201
    assert len(queries) == 0


@pytest.mark.django_db(transaction=True)
def test_keys_are_kept_a_day_then_pruned_and_an_expired_key_is_free(
    thread_id: int, member: Client, settings: Any
) -> None:
    assert (
        settings.CELERY_BEAT_SCHEDULE["forum.prune_idempotency_keys"]["task"]
        == "forum.prune_idempotency_keys"
    )
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    path = f"/api/v1/threads/{thread_id}/posts"
    old_key, recent_key = new_key(), new_key()
    assert keyed(member, "post", path, {"body": "Yesterday"}, old_key).status_code == 201
    assert keyed(member, "post", path, {"body": "Today"}, recent_key).status_code == 201
    IdempotencyKey.objects.filter(key=old_key).update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )

    # Past its day but not pruned yet, the key is free again: another request with it is written.
    reused = keyed(member, "post", path, {"body": "A new day"}, old_key)
    assert reused.status_code == 201 and reused.get(REPLAYED) is None
    IdempotencyKey.objects.filter(key=old_key).update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )

    assert idempotency.prune_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [recent_key]
