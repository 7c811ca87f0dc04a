"""Request context: the request id of the work in hand, carried from HTTP into Celery and log lines.

``X-Request-ID`` is taken from the request when it is a sane token, generated otherwise, returned in
the response, stored with every outbox event and sent as a Celery message header, so that a handler's
log lines carry the id of the request that caused them.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import signals
from django.http import HttpRequest, HttpResponse

__all__ = [
    "AccessLogMiddleware",
    "RequestContextFilter",
    "RequestContextMiddleware",
    "bind_request_id",
    "connect_celery_signals",
    "current_request_id",
    "current_user_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

access_logger = logging.getLogger("forum.access")


def current_request_id() -> str | None:
    return _request_id.get()


def current_user_id() -> int | None:
    return _user_id.get()


def bind_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(request_id)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """The caller's id when it is a safe token (no spaces, no control characters), else a new one."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or ""
        if not hasattr(record, "user_id"):
            record.user_id = _user_id.get()
        return True


class RequestContextMiddleware:
    """Binds the request id for the duration of the request and returns it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        id_token = _request_id.set(request_id)
        user_token = _user_id.set(None)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(id_token)
            _user_id.reset(user_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AccessLogMiddleware:
    """Writes one structured log line per request: method, route, status, duration, ids."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        _user_id.set(user_id)
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        match = request.resolver_match
        route = match.route if match is not None else ""
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
                "user_id": user_id,
            },
        )
        return response


def connect_celery_signals() -> None:
    """Carry the request id into Celery messages and bind it while their task runs."""
    @signals.before_task_publish.connect(weak=False)
    def add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if headers is not None and not headers.get("request_id"):
            request_id = _request_id.get()
            if request_id:
                headers["request_id"] = request_id

    @signals.task_prerun.connect(weak=False)
    def bind_task_request_id(task: Any = None, **kwargs: Any) -> None:
        request_id = getattr(task.request, "request_id", None) if task is not None else None
        _request_id.set(request_id or None)

    @signals.task_postrun.connect(weak=False)
    def clear_task_request_id(**kwargs: Any) -> None:
        _request_id.set(None)
