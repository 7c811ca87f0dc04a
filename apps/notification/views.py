"""Pages of the notification app: the list, the bell's dropdown, preferences, watch buttons and the
unsubscribe link of emails.

Every page works without JavaScript: the bell is a link to the list, marking read and watching are
POST forms that come back to the page. With JavaScript (static/notification/bell.js) the bell opens
the dropdown fragment in place and its count follows ``notification.*`` frames; an htmx watch button
swaps itself. Someone else's notification answers 404, as one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from apps.notification import forms, services
from forum.errors import ApplicationError
from forum.forms import add_application_error
from forum.paging import page_number


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def _back(request: HttpRequest, default: str) -> str:
    """Where a form sends the member back: its ``next`` when it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


@never_cache
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    page = services.notifications_page(
        user_id=_member_id(request), page=page_number(request.GET.get("page")), kind=kind
    )
    context = {"page": page, "kinds": services.notification_kinds(), "kind": page.kind}
    return render(request, "notification/list.html", context)


@never_cache
@login_required
def dropdown(request: HttpRequest) -> HttpResponse:
    """The bell's dropdown, an HTML fragment fetched by bell.js."""
    member_id = _member_id(request)
    context = {
        "items": services.notifications_latest(user_id=member_id),
        "unread_count": services.unread_count(user_id=member_id),
    }
    return render(request, "notification/_dropdown.html", context)


@never_cache
@login_required
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification: it is read from now on."""
    url = services.notification_open(user_id=_member_id(request), notification_id=notification_id)
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = reverse("notification:list")
    return redirect(url)


@login_required
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    services.notification_mark_read(user_id=_member_id(request), notification_id=notification_id)
    return redirect(_back(request, reverse("notification:list")))


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    marked = services.notifications_mark_all_read(user_id=_member_id(request), kind=kind)
    if marked:
        messages.success(request, _("Your notifications are marked read."))
    return redirect(_back(request, reverse("notification:list")))


@never_cache
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    current = services.preferences_get(user_id=member_id)
    form = forms.PreferencesForm(
        request.POST if request.method == "POST" else None,
        preferences=current,
        default_language=request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "",
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.preferences_update(user_id=member_id, **form.changes())
            except ApplicationError as error:
                add_application_error(form, error)
                status = error.status
            else:
                messages.success(request, _("Your notification settings are saved."))
                return redirect("notification:preferences")
        else:
            status = 400
    context = {
        "form": form,
        "rows": form.kind_rows(),
        "watching": services.watch_list(user_id=member_id),
    }
    return render(request, "notification/preferences.html", context, status=status)


def _watch_target_url(target: str, target_id: int) -> str:
    return reverse("thread-detail" if target == "thread" else "thread-forum", args=[target_id])


@login_required
@require_POST
def watch(request: HttpRequest, target: str, target_id: int, watching: bool) -> HttpResponse:
    """The watch and unwatch buttons: POST /notifications/watch/thread/<id>/ (and unwatch/, forum/)."""
    member_id = _member_id(request)
    change = services.watch_set if watching else services.watch_unset
    change(user_id=member_id, target=target, target_id=target_id)
    if _is_htmx(request):
        context = {"target": target, "target_id": target_id, "watching": watching, "next": _back(request, "")}
        return render(request, "notification/_watch_button.html", context)
    if watching:
        messages.success(request, _("You are watching it now."))
    else:
        messages.success(request, _("You are not watching it any more."))
    return redirect(_back(request, _watch_target_url(target, target_id)))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@csrf_exempt  # the signed link is the proof; a mail client's one-click POST has no CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """An email's unsubscribe link, no sign-in needed. GET shows what it does with one button (so that
    a link scanner fetching it changes nothing); POST, from that button or from a mail client's
    one-click (RFC 8058), does it."""
    found = services.unsubscribe_read(token=token)
    done = False
    if request.method == "POST":
        services.unsubscribe_apply(token=token)
        done = True
    context = {"found": found, "done": done, "token": token}
    return render(request, "notification/unsubscribe.html", context)
