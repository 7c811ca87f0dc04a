"""Server-rendered pages of the moderation app: a member's own warnings, with their points and
expiry, the appeal of a warning (which opens a support ticket linked to it), and staff's one
moderation queue."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.admin import forms, services, ticket_acts
from apps.authorization.services import has_perm
from apps.support.services import HANDLE_PERMISSION
from forum.errors import ApplicationError, NotFound


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


@never_cache
@login_required
def my_warnings(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    standing = services.member_standing(viewer_id=member_id, member_id=member_id)
    return render(request, "moderation/warnings.html", {"standing": standing})


@never_cache
@login_required
@require_POST
def warning_appeal(request: HttpRequest, warning_id: int) -> HttpResponse:
    member_id = _member_id(request)
    body = request.POST.get("body", "").strip() or _("I would like this warning to be reviewed.")
    try:
        ticket_id = services.warning_appeal(member_id=member_id, warning_id=warning_id, body=body)
    except ApplicationError as error:
        messages.error(request, str(error))
        return redirect(reverse("moderation:warnings"))
    messages.success(request, _("Your appeal is sent: support answers on its ticket."))
    return redirect(reverse("support:ticket", args=[ticket_id]))


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isdigit() and 0 < int(value) < 2**63]


@never_cache
@login_required
def moderation_queue(request: HttpRequest) -> HttpResponse:
    """The one moderation queue (staff; 404 for anyone else): threads awaiting moderation, replies held
    by premoderation and open reports, filtered by kind and reason, with bulk approve, reject and
    dismiss."""
    member_id = _member_id(request)
    if request.method == "POST":
        try:
            result = services.moderation_queue_act(
                actor_id=member_id,
                action=request.POST.get("action", ""),
                thread_ids=_ids(request.POST.getlist("thread")),
                ticket_ids=_ids(request.POST.getlist("ticket")),
                reason=request.POST.get("reason", ""),
                post_ids=_ids(request.POST.getlist("post")),
            )
        except ApplicationError as error:
            if error.status == 404:
                raise
            messages.error(request, error.message)
        else:
            messages.success(request, _("Done: %(count)d") % {"count": result.done})
            for problem in result.failed:
                messages.error(request, problem)
        return redirect(f"{reverse('moderation:queue')}?{request.GET.urlencode()}")
    show = request.GET.get("show", "all")
    show = show if show in services.QUEUE_SHOW else "all"
    reason = request.GET.get("reason", "")
    reason = reason if reason in services.REPORT_REASONS else ""
    queue = services.moderation_queue(viewer_id=member_id, show=show, reason=reason)
    context = {
        "queue": queue,
        "show": show,
        "reason": reason,
        "reasons": services.REPORT_REASONS,
        "query": request.GET.urlencode(),
    }
    return render(request, "moderation/queue.html", context)


@never_cache
@login_required
@require_POST
def ticket_act(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """An act on a report's ticket from its page (staff; 404 for anyone else, 403 for an act the
    engine does not allow the viewer): back to the ticket with what was done or why not."""
    member_id = _member_id(request)
    if not has_perm(user_id=member_id, permission=HANDLE_PERMISSION):
        raise NotFound(_("There is no such ticket."))
    ticket_url = reverse("support:ticket", args=[ticket_id])
    form = forms.TicketActForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(
                    request, f"{form.fields[field].label or field}: {error}" if field != "__all__" else error
                )
        return redirect(f"{ticket_url}#moderation-acts")
    arguments = form.act_arguments()
    try:
        result = ticket_acts.ticket_act(
            actor_id=member_id,
            ticket_id=ticket_id,
            ban_ends_at=ticket_acts.ban_ends_at(form.cleaned_data["ban_days"]),
            **arguments,
        )
    except ApplicationError as error:
        if error.status == 403:
            raise
        messages.error(request, error.message)
        for problems in error.fields.values():
            for problem in problems:
                messages.error(request, problem)
        return redirect(f"{ticket_url}#moderation-acts")
    messages.success(request, str(ticket_acts.DONE_MESSAGES[result.action]))
    if result.resolved:
        messages.success(request, _("The report is resolved; its reporters are told action was taken."))
    return redirect(ticket_url)
