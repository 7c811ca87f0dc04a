"""Friendly error pages shared by every app (JSON errors under /api/), wired in config/urls.py."""

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from forum.errors import error_response, is_api_request, status_text

logger = logging.getLogger(__name__)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):  # read before a view did: by a middleware
        return error_response(request, 413)
    return error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Permission checks raise PermissionDenied with a sentence meant for the member; show it.
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else None
    return error_response(request, 403, message=message)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The message of an Http404 is written for developers ("No Thread matches the given query").
    return error_response(request, 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form posted without a valid token (expired page, blocked cookies)."""
    return error_response(
        request,
        403,
        code="csrf_failed",
        message=_(
            "The form could not be accepted because it has expired or cookies are blocked. "
            "Go back, reload the page and try again."
        ),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 answer: a standalone template without context processors, which may be what failed."""
    if is_api_request(request):
        return error_response(request, 500)
    _code, title, message = status_text(500)
    context = {
        "title": title,
        "message": message,
        "language_code": get_language() or "en",
        "stylesheet_url": _url_or_none(lambda: static("css/forum.css")),
        "home_url": _url_or_none(lambda: reverse("home")) or "/",
    }
    return HttpResponseServerError(loader.get_template("errors/500.html").render(context))


def _url_or_none(build: Callable[[], str]) -> str | None:
    # Whatever broke the request may break this too (a missing static manifest, a bad URLconf);
    # the 500 page then goes without it rather than failing itself.
    try:
        return build()
    except Exception:
        logger.exception("the 500 page could not build a URL")
        return None
