"""Request context: the request id of the work in hand, carried from HTTP into Celery and log lines.

``X-Request-ID`` is taken from the request when it is a sane token, generated otherwise, returned in
the response, stored with every outbox event and sent as a Celery message header, so that a handler's
log lines carry the id of the request that caused them. The outermost middleware also writes the one
access log line of each request and observes its duration by route and status for Prometheus.

This module is imported while logging is configured (``RequestContextFilter``), before Django's apps
are loaded, so it must not import models.
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
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty
from prometheus_client import Histogram

__all__ = [
    "REQUEST_ID_HEADER",
    "AccessLogMiddleware",
    "RequestContextFilter",
    "RequestContextMiddleware",
    "accept_request_id",
    "bind_request_id",
    "connect_celery_signals",
    "current_request_id",
    "current_user_id",
    "new_request_id",
    "request_duration_seconds",
]

REQUEST_ID_HEADER = "X-Request-ID"
# The header goes into log lines, a Celery header and a 64-character column: only a short token
# without spaces or control characters is taken from outside.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,64}$")

# Label values for requests that matched no URL pattern, and for methods no view answers; raw paths
# and arbitrary methods would let any client create new time series.
UNMATCHED_ROUTE = "<unmatched>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes arrive every few seconds; their successful answers are logged at DEBUG only.
_QUIET_ROUTES = frozenset({"/health/live", "/health/ready", "/metrics"})

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("task", default=None)

access_logger = logging.getLogger("forum.access")

request_duration_seconds = Histogram(
    "forum_http_request_duration_seconds",
    "Time from the first middleware to the response, by URL pattern (route), method and status.",
    ["method", "route", "status"],
)

_STARTED_ATTRIBUTE = "_forum_started"
_USER_ID_ATTRIBUTE = "_forum_user_id"


def current_request_id() -> str | None:
    return _request_id.get()


def current_user_id() -> int | None:
    return _user_id.get()


def bind_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    """Bind ``request_id`` to the current context; pass the token to ``_request_id.reset`` to undo."""
    return _request_id.set(request_id)


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_sane_request_id(candidate: object) -> bool:
    return isinstance(candidate, str) and _VALID_REQUEST_ID.match(candidate) is not None


def accept_request_id(candidate: str | None) -> str:
    """The caller's id when it is a safe token (no spaces, no control characters), else a new one."""
    if candidate is not None and is_sane_request_id(candidate):
        return candidate
    return new_request_id()


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` to every log record, and the task while a Celery task runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or ""
        if not hasattr(record, "user_id"):
            record.user_id = _user_id.get()
        task = _task.get()
        if task is not None and not hasattr(record, "task_id"):
            record.task_name, record.task_id = task
        return True


def _route_of(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None:
        return UNMATCHED_ROUTE
    # Django's patterns have no leading slash, and the home page's is empty: "/" makes it visible.
    return "/" + match.route


def _loaded_user_id(request: HttpRequest) -> int | None:
    """The id of the user the request is authenticated as, when that is known without a query.

    ``AuthenticationMiddleware`` sets a lazy user; DRF replaces it with the user its authenticators
    found (JWT included). A lazy user nobody looked at is left alone rather than loaded for a log line.
    """
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return pk if isinstance(pk, int) else None


class RequestContextMiddleware:
    """Outermost middleware: binds the request id, writes the access line and times the request.

    Being first, it sees every request, also those that an inner middleware answers by itself (a
    redirect, a refused host), and its duration covers all the other middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = self._enter(request)
        try:
            response = self.get_response(request)
            self._log(request, response)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        return response

    @staticmethod
    def _enter(request: HttpRequest) -> contextvars.Token[str | None]:
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        setattr(request, _STARTED_ATTRIBUTE, time.perf_counter())
        return _request_id.set(request_id)

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponseBase) -> None:
        seconds = time.perf_counter() - getattr(request, _STARTED_ATTRIBUTE)
        route = _route_of(request)
        method = request.method or ""
        status = response.status_code
        user_id = getattr(request, _USER_ID_ATTRIBUTE, None)
        if user_id is None:
            user_id = _loaded_user_id(request)
        request_duration_seconds.labels(
            method=method if method in _KNOWN_METHODS else "other", route=route, status=str(status)
        ).observe(seconds)
        level = logging.DEBUG if route in _QUIET_ROUTES and status < 400 else logging.INFO
        duration_ms = round(seconds * 1000, 2)
        access_logger.log(
            level,
            "%s %s %s %.1fms",
            method,
            request.path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user_id": user_id,
            },
        )


class AccessLogMiddleware:
    """Placed after authentication: binds the user id, so that log lines of the view carry it.

    The access line itself is written by ``RequestContextMiddleware`` (outermost); this one hands it
    the user id, taken again after the view since DRF may authenticate (JWT) only inside the view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        # Loading the session user here costs what the view would pay anyway; the auth context
        # processor and almost every view read it.
        user_id = user.pk if user is not None and user.is_authenticated else None
        token = _user_id.set(user_id)
        try:
            response = self.get_response(request)
        finally:
            _user_id.reset(token)
        setattr(request, _USER_ID_ATTRIBUTE, _loaded_user_id(request) or user_id)
        return response


def request_id_of_task(task_request: Any) -> str | None:
    """The request id a Celery message carries, if it is sane.

    Celery 5 (message protocol 2) copies the message headers into the task request: a custom header
    is an attribute (``task.request.request_id``) and also in ``task.request.headers`` (the only place
    for eager calls with ``apply(headers=...)``).
    """
    candidate = getattr(task_request, "request_id", None)
    if candidate is None:
        headers = getattr(task_request, "headers", None)
        if isinstance(headers, dict):
            candidate = headers.get("request_id")
    return candidate if is_sane_request_id(candidate) else None


# The tokens of the ids bound for running tasks, by task id, to restore what was bound before
# (which matters for eager runs inside a request).
_task_tokens: dict[str, tuple[contextvars.Token[str | None], contextvars.Token[tuple[str, str] | None]]] = {}


def _add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """``before_task_publish``: send the bound request id unless the sender set one (the bus does)."""
    if headers is not None and not headers.get("request_id"):
        request_id = _request_id.get()
        if request_id:
            headers["request_id"] = request_id


def _bind_task_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun``: bind the message's request id and the task while the task runs."""
    if task is None or task_id is None:
        return
    request_id = request_id_of_task(task.request)
    _task_tokens[task_id] = (_request_id.set(request_id), _task.set((task.name, task_id)))


def _clear_task_context(task_id: str | None = None, **kwargs: Any) -> None:
    """``task_postrun``: restore what was bound before the task."""
    tokens = _task_tokens.pop(task_id, None) if task_id is not None else None
    if tokens is None:
        return
    id_token, task_token = tokens
    try:
        _request_id.reset(id_token)
        _task.reset(task_token)
    except ValueError:  # another context (a pool that switches contexts): nothing to restore there
        _request_id.set(None)
        _task.set(None)


def connect_celery_signals() -> None:
    """Carry the request id into Celery messages and bind it while their task runs."""
    signals.before_task_publish.connect(_add_request_id, weak=False, dispatch_uid="forum.request_id.publish")
    signals.task_prerun.connect(_bind_task_context, weak=False, dispatch_uid="forum.request_id.prerun")
    signals.task_postrun.connect(_clear_task_context, weak=False, dispatch_uid="forum.request_id.postrun")
