"""Test clients signed in as a member, for the pages (session) and the API (forced authentication).

Every app's tests need them; the ``web_as`` and ``api_as`` fixtures (forum.testing.fixtures) hand
these out. A separate module because DRF's test client needs configured settings to import, and the
fixtures module is loaded by the pytest plugin before they are.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient


def web_client(user_id: int | None) -> Client:
    """A browser for the pages, signed in by the session as ``user_id``, or a guest for None."""
    client = Client()
    if user_id is not None:
        client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def api_client(user_id: int | None) -> APIClient:
    """A client of the API authenticated as ``user_id`` (no session, no CSRF), or a guest for None."""
    client = APIClient()
    if user_id is not None:
        client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


def session_key_for(user_id: int) -> str:
    """The key of a new session signed in as ``user_id``: a real browser sends it as its cookie."""
    return str(web_client(user_id).cookies[settings.SESSION_COOKIE_NAME].value)
