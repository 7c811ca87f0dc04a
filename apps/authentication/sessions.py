"""Starting a signed-in session for an account, the one step after its credentials were accepted."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest

from apps.authentication import selectors

# The backend a session records; it must be listed in AUTHENTICATION_BACKENDS.
SESSION_BACKEND = "apps.authentication.backends.CredentialsBackend"


def session_start(request: HttpRequest, account_id: int) -> None:
    """Sign ``account_id`` in on this request (a new session key, against fixation)."""
    user = selectors.user_get(user_id=account_id)
    if user is not None:
        login(request, user, backend=SESSION_BACKEND)
