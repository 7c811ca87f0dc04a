"""The WebSocket protocol's AsyncAPI document (forum/asyncapi.yaml), served beside the OpenAPI schema.

The document is written by hand, like docs/realtime.md, and kept true by tests that validate the
frames the gateway and the apps really send against it. Serving it fills in what belongs to the
deployment: where the socket is (``FORUM_WEBSOCKET_URL``, or this host) and the cookies' names.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

__all__ = ["ASYNCAPI_PATH", "asyncapi_document", "asyncapi_json", "asyncapi_yaml", "served_document"]

ASYNCAPI_PATH = Path(__file__).with_name("asyncapi.yaml")
WEBSOCKET_PATH = "/ws/"


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    """The document as written (read once per process); callers must not change it."""
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    return loaded


def _where(request: HttpRequest) -> tuple[str, str, str]:
    """(protocol, host, path) of the socket that clients of this request's site connect to."""
    if settings.FORUM_WEBSOCKET_URL:
        url = urlsplit(settings.FORUM_WEBSOCKET_URL)
        return url.scheme or "wss", url.netloc, url.path or WEBSOCKET_PATH
    return ("wss" if request.is_secure() else "ws"), request.get_host(), WEBSOCKET_PATH


def served_document(request: HttpRequest) -> dict[str, Any]:
    """The document for this deployment, as ``request`` reached it."""
    document = copy.deepcopy(asyncapi_document())
    protocol, host, path = _where(request)
    server = document["servers"]["forum"]
    server["protocol"], server["host"] = protocol, host
    document["channels"]["gateway"]["address"] = path
    schemes = document["components"]["securitySchemes"]
    schemes["sessionCookie"]["name"] = settings.SESSION_COOKIE_NAME
    schemes["accessCookie"]["name"] = settings.JWT_ACCESS_COOKIE_NAME
    return document


@require_safe
def asyncapi_json(request: HttpRequest) -> HttpResponse:
    """GET /api/asyncapi.json"""
    return JsonResponse(served_document(request), json_dumps_params={"ensure_ascii": False, "indent": 2})


@require_safe
def asyncapi_yaml(request: HttpRequest) -> HttpResponse:
    """GET /api/asyncapi.yaml"""
    # Through JSON first: a plain dict, so that the YAML has no anchors or Python tags.
    text = yaml.safe_dump(
        json.loads(json.dumps(served_document(request))), allow_unicode=True, sort_keys=False, width=100
    )
    return HttpResponse(text, content_type="application/yaml; charset=utf-8")
