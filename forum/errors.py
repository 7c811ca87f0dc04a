"""One application error type, and the handlers that turn errors into clear 4xx answers.

Services raise ``ApplicationError`` (or a subclass); the API answers every error with one JSON shape
``{"error": {"code": ..., "message": ..., "fields": {...}}}`` and pages render a friendly error page.
Under ``/api/`` even the errors Django answers itself (an unknown URL, a crash, with DEBUG on or off)
take the JSON shape; an htmx request gets a fragment that lands in the page's alert area instead of a
whole page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

__all__ = [
    "ApiErrorShapeMiddleware",
    "ApplicationError",
    "ApplicationErrorMiddleware",
    "Conflict",
    "ErrorSerializer",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ValidationFailed",
    "api_exception_handler",
    "error_body",
    "error_page",
    "error_response",
    "is_api_request",
    "page_for_error",
]

API_PREFIX = "/api/"
# Where an htmx request's error fragment goes: the alert area every page has (templates/base.html).
HTMX_ALERT_TARGET = "#alerts"


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
    # DRF's metaclass takes declared fields off the class, so this does not hide Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
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


def _request_refused(exc: Exception) -> ApplicationError | None:
    """What to answer for a request Django would not read (too big, too many fields or files).

    Django turns these into a bare 400 (under DEBUG, its HTML debugging page); the API answers in its
    own shape and pages with the friendly page, 413 where it is about size."""
    if isinstance(exc, RequestDataTooBig):
        return ApplicationError(
            _("The request body is larger than this server accepts."), code="request_too_large", status=413
        )
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return ValidationFailed(
            _("The request has more fields or files than this server accepts."), code="too_many_fields"
        )
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the one documented shape."""
    if isinstance(exc, SuspiciousOperation):
        refused = _request_refused(exc)
        if refused is not None:
            exc = refused
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status, headers=exc.headers)
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


# Titles and explanations of the friendly pages, and the codes of JSON errors outside DRF.
_STATUS_TEXT: dict[int, tuple[str, Promise, Promise]] = {
    400: (
        "bad_request",
        gettext_lazy("Bad request"),
        gettext_lazy("The request could not be understood. Check the address or the form and try again."),
    ),
    401: (
        "not_authenticated",
        gettext_lazy("Sign-in required"),
        gettext_lazy("Sign in to see this page."),
    ),
    403: (
        "permission_denied",
        gettext_lazy("Access denied"),
        gettext_lazy("You do not have permission to see this page."),
    ),
    404: (
        "not_found",
        gettext_lazy("Page not found"),
        gettext_lazy("The page you are looking for does not exist or has moved."),
    ),
    405: (
        "method_not_allowed",
        gettext_lazy("Not allowed"),
        gettext_lazy("This address does not accept that kind of request."),
    ),
    413: (
        "request_too_large",
        gettext_lazy("Request too large"),
        gettext_lazy("The request is larger than this server accepts."),
    ),
    409: (
        "conflict",
        gettext_lazy("Conflict"),
        gettext_lazy("That clashes with the current state of things. Reload the page and try again."),
    ),
    429: (
        "rate_limited",
        gettext_lazy("Too many requests"),
        gettext_lazy("You are going too fast. Wait a little and try again."),
    ),
    500: (
        "server_error",
        gettext_lazy("Something went wrong"),
        gettext_lazy("An error occurred on our side and has been logged. Please try again in a moment."),
    ),
}
_FALLBACK_TEXT = ("error", gettext_lazy("Something is not right"), gettext_lazy("The request failed."))


def status_text(status: int) -> tuple[str, str, str]:
    """The JSON code, page title and explanation for an HTTP status, in the active language."""
    code, title, message = _STATUS_TEXT.get(status, _FALLBACK_TEXT)
    return code, str(title), str(message)


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for the API, whose every answer, errors included, is JSON."""
    return request.path_info.startswith(API_PREFIX)


def _is_htmx_fragment_request(request: HttpRequest) -> bool:
    # A boosted request swaps the whole body, so it wants the whole page, not a fragment.
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def page_for_error(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """The friendly page for an ApplicationError raised under a server-rendered view."""
    return error_page(request, error.status, message=error.message, headers=error.headers)


def error_page(
    request: HttpRequest,
    status: int,
    *,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """The friendly error page (or, to htmx, the fragment for the alert area) for a status."""
    _code, title, explanation = status_text(status)
    context = {"status": status, "title": title, "message": str(message) if message else explanation}
    if _is_htmx_fragment_request(request):
        response = render(request, "partials/error.html", context, status=status)
        response["HX-Retarget"] = HTMX_ALERT_TARGET
        response["HX-Reswap"] = "innerHTML"
    else:
        response = render(request, "errors/error.html", context, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(
    request: HttpRequest,
    status: int,
    *,
    code: str | None = None,
    message: str | None = None,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """An error answered outside DRF: the JSON shape under /api/, the friendly page elsewhere."""
    if is_api_request(request):
        default_code, _title, explanation = status_text(status)
        body = error_body(code or default_code, str(message) if message else explanation, fields)
        response: HttpResponse = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
        for name, value in (headers or {}).items():
            response[name] = value
        return response
    return error_page(request, status, message=message, headers=headers)


# Headers that describe a body: an error answer rewritten in the JSON shape gets its own.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "content-disposition"})


class ApiErrorShapeMiddleware:
    """Under /api/, an error answer that is not JSON is answered again in the one JSON shape.

    Django answers some errors itself, outside every handler the API controls: with DEBUG on (the
    development profile of ``make run``), an unknown URL gets the technical 404 page and a crash the
    technical 500 page, whatever ``handler404`` and ``handler500`` say, and a plain view may answer
    ``HttpResponseNotAllowed`` with an empty HTML body. A client of the API must read every error the
    same way in every profile, so the status is kept and the body replaced (the traceback of a 500 is
    still logged by Django). Near the outside, so that it sees what the other middleware answered too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_request(request)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        answer = error_response(request, response.status_code)
        # What the other middleware added (security headers, cookies, Allow, WWW-Authenticate...)
        # stays; only the body and its type change.
        for name, value in response.items():
            if name.lower() not in _BODY_HEADERS:
                answer[name] = value
        answer.cookies = response.cookies
        return answer


class ApplicationErrorMiddleware:
    """Answers an ApplicationError raised under a view that is not DRF's with its clear 4xx.

    DRF's views hand their errors to ``api_exception_handler``; this covers the server-rendered pages
    (and any plain Django view under /api/), which would otherwise turn the error into a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SuspiciousOperation):
            refused = _request_refused(exception)
            if refused is None:
                return None
            exception = refused
        if not isinstance(exception, ApplicationError):
            return None
        return error_response(
            request,
            exception.status,
            code=exception.code,
            message=exception.message,
            fields=exception.fields,
            headers=exception.headers,
        )
