"""One application error type, and the handlers that turn errors into clear 4xx answers.

Services raise ``ApplicationError`` (or a subclass); the API answers every error with one JSON shape
``{"error": {"code": ..., "message": ..., "fields": {...}}}`` and pages render a friendly error page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

__all__ = [
    "ApplicationError",
    "Conflict",
    "ErrorSerializer",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ValidationFailed",
    "api_exception_handler",
    "error_body",
    "page_for_error",
]


class ApplicationError(Exception):
    """An error a service raises on purpose; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields or {}
        self.headers = headers or {}


class ValidationFailed(ApplicationError):
    status = 400
    code = "invalid"


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class RateLimited(ApplicationError):
    """Over a rate limit or quota; ``retry_after`` seconds until it resets."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        headers = {"Retry-After": str(max(0, int(retry_after)))}
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = retry_after


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages for invalid input; empty otherwise.",
    )


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every API error."""

    error = ErrorDetailSerializer()


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub_key, messages in _flatten_fields(value).items():
                    flat[f"{key}.{sub_key}"] = messages
            elif isinstance(value, list):
                flat[str(key)] = [str(item) for item in value if not isinstance(item, dict)]
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        for sub_key, messages in _flatten_fields(item).items():
                            flat[f"{key}.{index}.{sub_key}"] = messages
            else:
                flat[str(key)] = [str(value)]
        return flat
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the one documented shape."""
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.code, exc.message, exc.fields), status=exc.status, headers=exc.headers
        )
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("invalid", _("The input is not valid."), fields), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: a 500 that Django logs and answers
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", _("The input is not valid."), _flatten_fields(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail["detail"]) if isinstance(detail, dict) and "detail" in detail else str(detail)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(str(code), message)
    else:  # pragma: no cover - drf only answers APIException subclasses
        body = error_body("error", str(exc))
    response.data = body
    return response


def page_for_error(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """The friendly page for an ApplicationError raised under a server-rendered view."""
    response = render(
        request,
        "errors/error.html",
        {"status": error.status, "title": _("Something is not right"), "message": error.message},
        status=error.status,
    )
    for name, value in error.headers.items():
        response[name] = value
    return response

