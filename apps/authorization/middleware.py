"""Per-request work of the authorization app: the permission scope, and recording signed-in sessions."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from apps.authorization.services import TOUCH_INTERVAL, TOUCHED_KEY, permission_scope, web_session_touch
from forum.client import client_device, client_ip


class PermissionScopeMiddleware:
    """Opens a permission scope around the view, so that its checks cost at most one query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with permission_scope():
            return self.get_response(request)


class SessionActivityMiddleware:
    """Records the signed-in session of a request (device, address, last seen) for the sessions list.

    Before the view, so that the list a request asks for always holds the session it is made with, and
    after it, so that a sign-in is recorded by the request that made it (with the new key it got). At
    most once a minute per session: which key was recorded when is kept in the session itself, so the
    other requests cost nothing.
    Requests signed in by a token are not web sessions (their family records its own use).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        self._touch(request)
        response = self.get_response(request)
        self._touch(request)
        return response

    def _touch(self, request: HttpRequest) -> None:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated or not session.session_key:
            return
        if session.get(SESSION_KEY) != str(user.pk):
            return
        now = timezone.now()
        touched = session.get(TOUCHED_KEY)
        if (
            isinstance(touched, list)
            and len(touched) == 2
            and touched[0] == session.session_key
            and isinstance(touched[1], int | float)
            and 0 <= now.timestamp() - touched[1] < TOUCH_INTERVAL.total_seconds()
        ):
            return
        web_session_touch(
            user_id=int(user.pk),
            session_key=session.session_key,
            device=client_device(request),
            ip=client_ip(request),
            now=now,
        )
        session[TOUCHED_KEY] = [session.session_key, now.timestamp()]
