"""The request's permission scope: each member's permissions are loaded once per request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from apps.authorization.services import permission_scope


class PermissionScopeMiddleware:
    """Opens a permission scope around the view, so that its checks cost at most one query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with permission_scope():
            return self.get_response(request)
