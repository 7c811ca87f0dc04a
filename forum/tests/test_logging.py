"""JSON log lines: exactly one per request, with the route, status, duration, request id and user id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils.module_loading import import_string

from forum import health

view_logger = logging.getLogger("forum.tests.views")


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    return HttpResponse(f"item {item_id}")


def talkative(request: HttpRequest) -> HttpResponse:
    view_logger.info("the view speaks")
    return HttpResponse("said")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("broken on purpose")


urlpatterns = [
    path("items/<int:item_id>", item, name="item"),
    path("talkative", talkative),
    path("broken", broken),
    path("health/live", health.live),
    path("", lambda request: HttpResponse("home")),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    """What the root logger writes during the test, formatted and filtered as settings.LOGGING says."""
    formatter_config = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(formatter_config.pop("()"))(**formatter_config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(import_string(settings.LOGGING["filters"]["request_context"]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """Each line must be one JSON object: a line that is not fails the test here."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def member(django_user_model: Any) -> Any:
    """A signed-up user, made without a password: hashing one would only slow the tests down."""
    return django_user_model.objects.create(**{django_user_model.USERNAME_FIELD: "observed-member"})


def test_one_json_line_per_request_with_route_status_duration_and_ids(
    client: Client, member: Any, capture: io.StringIO
) -> None:
    client.force_login(member)
    capture.truncate(0)
    capture.seek(0)

    response = client.get("/items/42", HTTP_X_REQUEST_ID="req-log-1")

    assert response.status_code == 200
    [line] = lines_of(capture)
    assert line["logger"] == "forum.access"
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["route"] == "/items/<int:item_id>"  # the pattern, not /items/42
    assert line["path"] == "/items/42"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "req-log-1"
    assert line["user_id"] == member.pk
    assert line["time"].endswith("+00:00")


def test_a_not_found_request_is_one_line_without_a_route(client: Client, capture: io.StringIO) -> None:
    response = client.get("/nowhere/at/all")

    assert response.status_code == 404
    [line] = lines_of(capture)
    assert (line["logger"], line["status"], line["route"]) == ("forum.access", 404, "<unmatched>")
    assert line["user_id"] is None
    assert line["request_id"] == response["X-Request-ID"]


def test_log_lines_of_the_view_carry_the_request_and_user_id(
    client: Client, member: Any, capture: io.StringIO
) -> None:
    client.force_login(member)
    capture.truncate(0)
    capture.seek(0)

    response = client.get("/talkative")

    view_line, access_line = lines_of(capture)
    assert view_line["message"] == "the view speaks"
    assert view_line["request_id"] == access_line["request_id"] == response["X-Request-ID"]
    assert view_line["user_id"] == access_line["user_id"] == member.pk


def test_a_server_error_logs_its_traceback_and_one_access_line(capture: io.StringIO) -> None:
    response = Client(raise_request_exception=False).get("/broken", HTTP_X_REQUEST_ID="req-broken")

    assert response.status_code == 500
    lines = lines_of(capture)
    access = [line for line in lines if line["logger"] == "forum.access"]
    errors = [line for line in lines if line["logger"] == "django.request"]
    assert [line["status"] for line in access] == [500]
    assert access[0]["route"] == "/broken"
    [error] = errors
    assert "broken on purpose" in error["exc_info"]
    assert error["request_id"] == "req-broken"
    assert len(lines) == 2


def test_probes_that_succeed_are_logged_at_debug_only(client: Client, capture: io.StringIO) -> None:
    client.get("/health/live")
    assert lines_of(capture) == []  # at the default level: probes every few seconds would drown the rest

    access_logger = logging.getLogger("forum.access")
    access_logger.setLevel(logging.DEBUG)
    try:
        client.get("/health/live")
    finally:
        access_logger.setLevel(logging.NOTSET)
    [line] = lines_of(capture)
    assert (line["level"], line["route"], line["status"]) == ("DEBUG", "/health/live", 200)


def test_the_root_pattern_is_logged_as_a_slash_not_as_unmatched(client: Client, capture: io.StringIO) -> None:
    response = client.get("/")
    assert response.status_code == 200
    [line] = lines_of(capture)
    assert (line["route"], line["status"]) == ("/", 200)
