"""Pages of the authorization app: the member's list of sessions, with forms to end them."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.authorization import services


def _member_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None, "login_required lets only members in"
    return int(user_id)


def _current(request: HttpRequest) -> services.CurrentSession:
    return services.CurrentSession(session_key=request.session.session_key)


@never_cache
@login_required
def sessions_page(request: HttpRequest) -> HttpResponse:
    rows = services.sessions_list(user_id=_member_id(request), current=_current(request))
    others = sum(1 for row in rows if not row.current)
    return render(request, "authorization/sessions.html", {"sessions": rows, "others": others})


@require_POST
@login_required
def session_end(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    # A missing or foreign id raises NotFound, which the error middleware answers with the 404 page.
    was_current = services.session_end(
        user_id=_member_id(request), session_id=session_id, current=_current(request)
    )
    if was_current:
        logout(request)
        messages.info(request, _("You signed out."))
        return redirect("authentication:signin")
    messages.success(request, _("The session has been ended."))
    return redirect("authorization:sessions")


@require_POST
@login_required
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_end_others(user_id=_member_id(request), current=_current(request))
    messages.success(
        request,
        ngettext(
            "%(count)d other session has been ended.", "%(count)d other sessions have been ended.", ended
        )
        % {"count": ended},
    )
    return redirect("authorization:sessions")
