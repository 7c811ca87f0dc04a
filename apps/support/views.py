"""Server-rendered pages of the support app: a member's tickets and reports, a new ticket, a ticket's
conversation (live for both sides), the report form, the evidence of a report (staff), the staff's
queue, and ticket files.

Every page works without JavaScript: plain links and POST forms. With it, static/support/ticket.js
follows the ticket's live topic and swaps the conversation in when anything changes. A ticket the
viewer may not see answers the 404 page, as one that does not exist; staff pages answer 404 to
everyone else. Refusals of the services come back as form errors with their status.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.support import forms, selectors, services
from apps.support.models import ACTIVE_STATES, ReportTarget, TicketKind, TicketState
from forum.errors import ApplicationError, NotFound
from forum.forms import add_application_error
from forum.paging import page_number
from forum.uploads import THUMBNAIL_CONTENT_TYPE, serve_download


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def _with_headers(response: HttpResponse, error: ApplicationError) -> HttpResponse:
    for name, value in error.headers.items():
        response[name] = value
    return response


def _detail_or_404(viewer_id: int, ticket_id: int) -> selectors.TicketDetail:
    detail = selectors.ticket_detail(viewer_id=viewer_id, ticket_id=ticket_id)
    if detail is None:
        raise NotFound(_("There is no such ticket."))
    return detail


def _staff_or_404(viewer_id: int) -> None:
    if not selectors.is_staff(viewer_id):
        raise NotFound(_("There is no such page."))


def _uploaded(member_id: int, files: Sequence[UploadedFile[bytes]]) -> list[int]:
    """Store a form's files as the member's uploads waiting for a message (all or none)."""
    ids: list[int] = []
    try:
        for file in files:
            ids.append(
                services.attachment_upload(uploader_id=member_id, file=file, field_name="attachments").id
            )
    except BaseException:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        raise
    return ids


def _ticket_url(ticket_id: int, message_id: int | None = None) -> str:
    url = reverse("support:ticket", args=[ticket_id])
    return f"{url}#message-{message_id}" if message_id else url


# --- A member's tickets and reports ---------------------------------------------------------------------


@never_cache
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    context = {
        "tickets": selectors.member_ticket_page(
            member_id=member_id, page=page_number(request.GET.get("page"))
        ),
        "reports": selectors.reporter_report_page(reporter_id=member_id, per_page=10),
        "is_staff": selectors.is_staff(member_id),
    }
    return render(request, "support/index.html", context)


def _topics() -> list[tuple[int, str]]:
    return [(topic.id, topic.name) for topic in services.topics_public()]


@never_cache
@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    if request.method != "POST":
        return render(request, "support/new.html", {"form": forms.NewTicketForm(topics=_topics())})
    form = forms.NewTicketForm(request.POST, request.FILES, topics=_topics())
    if not form.is_valid():
        return render(request, "support/new.html", {"form": form}, status=400)
    ids: list[int] = []
    try:
        ids = _uploaded(member_id, form.cleaned_data["attachments"])
        ticket = services.ticket_open(
            member_id=member_id,
            topic_id=form.cleaned_data["topic"],
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            attachment_ids=ids,
        )
    except ApplicationError as error:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        add_application_error(form, error, field_map={"topic_id": "topic", "attachment_ids": "attachments"})
        return _with_headers(render(request, "support/new.html", {"form": form}, status=error.status), error)
    messages.success(request, _("Your ticket is open. We will answer here and let you know."))
    return redirect(_ticket_url(ticket.id))


# --- One ticket -----------------------------------------------------------------------------------------


def _may_reply(detail: selectors.TicketDetail) -> bool:
    """Whether the page offers the reply form: staff on any ticket not closed (notes on a report's),
    the member until the ticket closes or its reopen window ends."""
    row = detail.row
    if detail.access is selectors.Access.REPORTER:
        return False
    if detail.is_staff:
        return True
    if row.state == TicketState.CLOSED:
        return False
    if row.state == TicketState.RESOLVED and row.resolved_at is not None:
        window = datetime.timedelta(days=float(settings.SUPPORT_REOPEN_DAYS))
        return timezone.now() - row.resolved_at <= window
    return True


def _subject(detail: selectors.TicketDetail) -> services.TicketSubject:
    row = detail.row
    return services.TicketSubject(
        id=row.id,
        kind=row.kind,
        state=row.state,
        is_active=row.is_active,
        link_kind=row.link_kind,
        link_id=row.link_id,
        reported_member_id=detail.reported_member_id,
    )


def _ticket_context(
    request: HttpRequest, detail: selectors.TicketDetail, *, with_panels: bool = True, **extra: Any
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "detail": detail,
        "ticket": detail.row,
        "may_reply": _may_reply(detail),
        "may_resolve": detail.access is selectors.Access.MEMBER and detail.row.state in ACTIVE_STATES,
        "live_topics": f"ticket:{detail.row.id}"
        + (f" ticketstaff:{detail.row.id}" if detail.is_staff else ""),
    }
    if detail.is_staff:
        initial: dict[str, Any] = {}
        canned_id = request.GET.get("canned", "")
        if canned_id.isdigit() and len(canned_id) < 19:
            with contextlib.suppress(NotFound):  # a canned reply deleted meanwhile: an empty box
                initial["body"] = services.canned_reply_render(
                    actor_id=_member_id(request), canned_id=int(canned_id), ticket_id=detail.row.id
                )
        is_report = detail.row.kind == TicketKind.REPORT
        context.update(
            reply_form=forms.StaffReplyForm(initial={**initial, "internal": is_report}),
            state_form=forms.StateForm(initial={"state": detail.row.state}),
            priority_form=forms.PriorityForm(initial={"priority": detail.row.priority_name}),
            resolve_form=forms.ResolveReportForm() if is_report and detail.row.is_active else None,
            staff=services.staff_members(),
            canned=selectors.canned_replies(),
            # Other apps' panels (the moderation acts) are on the page, not in its live part.
            panels=services.ticket_panels(viewer_id=_member_id(request), subject=_subject(detail))
            if with_panels
            else (),
        )
    else:
        context["reply_form"] = forms.ReplyForm()
    context.update(extra)
    return context


@never_cache
@login_required
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    detail = _detail_or_404(_member_id(request), ticket_id)
    return render(request, "support/ticket.html", _ticket_context(request, detail))


@never_cache
@login_required
def ticket_live(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The live part of a ticket's page (state, conversation), fetched again by ticket.js when the
    ticket's topic says it changed: rendered for this viewer, as the page is."""
    detail = _detail_or_404(_member_id(request), ticket_id)
    return render(request, "support/_ticket_live.html", _ticket_context(request, detail, with_panels=False))


@never_cache
@login_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    member_id = _member_id(request)
    detail = _detail_or_404(member_id, ticket_id)
    form: forms.ReplyForm = (
        forms.StaffReplyForm(request.POST, request.FILES)
        if detail.is_staff
        else forms.ReplyForm(request.POST, request.FILES)
    )
    if not form.is_valid():
        return render(
            request, "support/ticket.html", _ticket_context(request, detail, reply_form=form), status=400
        )
    ids: list[int] = []
    try:
        ids = _uploaded(member_id, form.cleaned_data["attachments"])
        message = services.ticket_reply(
            author_id=member_id,
            ticket_id=ticket_id,
            body=form.cleaned_data["body"],
            internal=bool(form.cleaned_data.get("internal")),
            state=form.cleaned_data.get("state") or None,
            attachment_ids=ids,
        )
    except ApplicationError as error:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        add_application_error(form, error, field_map={"attachment_ids": "attachments"})
        context = _ticket_context(request, detail, reply_form=form)
        return _with_headers(render(request, "support/ticket.html", context, status=error.status), error)
    return redirect(_ticket_url(ticket_id, message.id))


def _staff_change(request: HttpRequest, ticket_id: int, change: Any, success: str) -> HttpResponse:
    try:
        change()
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(_ticket_url(ticket_id))
    messages.success(request, success)
    return redirect(_ticket_url(ticket_id))


@never_cache
@login_required
@require_POST
def ticket_state(request: HttpRequest, ticket_id: int) -> HttpResponse:
    member_id = _member_id(request)
    _detail_or_404(member_id, ticket_id)
    form = forms.StateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a state."))
        return redirect(_ticket_url(ticket_id))
    return _staff_change(
        request,
        ticket_id,
        lambda: services.ticket_state_set(
            actor_id=member_id,
            ticket_id=ticket_id,
            state=form.cleaned_data["state"],
            outcome=form.cleaned_data.get("outcome") or "",
        ),
        _("The ticket is now: %(state)s.") % {"state": TicketState(form.cleaned_data["state"]).label},
    )


@never_cache
@login_required
@require_POST
def ticket_priority(request: HttpRequest, ticket_id: int) -> HttpResponse:
    member_id = _member_id(request)
    _detail_or_404(member_id, ticket_id)
    form = forms.PriorityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a priority."))
        return redirect(_ticket_url(ticket_id))
    return _staff_change(
        request,
        ticket_id,
        lambda: services.ticket_priority_set(
            actor_id=member_id, ticket_id=ticket_id, priority=form.cleaned_data["priority"]
        ),
        _("The priority is changed."),
    )


@never_cache
@login_required
@require_POST
def ticket_assign(request: HttpRequest, ticket_id: int) -> HttpResponse:
    member_id = _member_id(request)
    _detail_or_404(member_id, ticket_id)
    raw = request.POST.get("assignee", "")
    assignee: int | None
    if raw == "me":
        assignee = member_id
    elif raw == "none":
        assignee = None
    elif raw.isdigit() and len(raw) < 19:
        assignee = int(raw)
    else:
        messages.error(request, _("Choose a member of staff."))
        return redirect(_ticket_url(ticket_id))
    return _staff_change(
        request,
        ticket_id,
        lambda: services.ticket_assign(actor_id=member_id, ticket_id=ticket_id, assignee_id=assignee),
        _("The ticket is assigned."),
    )


@never_cache
@login_required
@require_POST
def report_resolve(request: HttpRequest, ticket_id: int) -> HttpResponse:
    member_id = _member_id(request)
    _detail_or_404(member_id, ticket_id)
    form = forms.ResolveReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an outcome."))
        return redirect(_ticket_url(ticket_id))
    return _staff_change(
        request,
        ticket_id,
        lambda: services.report_resolve(
            actor_id=member_id,
            ticket_id=ticket_id,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
        ),
        _("The report is resolved; its reporters are told."),
    )


@never_cache
@login_required
def ticket_evidence(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """A report's copied dialog messages, for staff; each look is logged (the page says so)."""
    member_id = _member_id(request)
    detail = _detail_or_404(member_id, ticket_id)
    if not detail.is_staff:
        raise NotFound(_("There is no such ticket."))
    evidence = services.ticket_evidence(staff_id=member_id, ticket_id=ticket_id, surface="page")
    return render(request, "support/evidence.html", {"ticket": detail.row, "evidence": evidence})


# --- Staff's queue --------------------------------------------------------------------------------------


@never_cache
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    _staff_or_404(member_id)
    state, kind = request.GET.get("state", ""), request.GET.get("kind", "")
    assignee, breached = request.GET.get("assignee", ""), request.GET.get("breached", "") == "1"
    page = selectors.staff_ticket_page(
        viewer_id=member_id,
        page=page_number(request.GET.get("page")),
        state=state,
        kind=kind,
        assignee=assignee,
        breached=breached,
    )
    filters = {"state": state, "kind": kind, "assignee": assignee, "breached": breached}
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tickets": page,
        "query": query.urlencode(),
        "filters": filters,
        "states": TicketState.choices,
        "kinds": TicketKind.choices,
    }
    return render(request, "support/queue.html", context)


# --- Reports --------------------------------------------------------------------------------------------


@never_cache
@login_required
def report(request: HttpRequest) -> HttpResponse:
    """``/report/?kind=post&id=12``: the form (GET) and the report (POST). What the member may not see
    answers 404, as what does not exist."""
    member_id = _member_id(request)
    data = request.POST if request.method == "POST" else request.GET
    kind = data.get("kind", "")
    raw_id = data.get("id", "")
    if not raw_id.isdigit() or len(raw_id) > 18 or kind not in ReportTarget.values:
        raise NotFound(_("There is nothing to report there."))
    if request.method == "POST":
        form = forms.ReportForm(request.POST)
    else:
        form = forms.ReportForm(initial={"kind": kind, "id": raw_id})
    preview = services.report_target_preview(reporter_id=member_id, target_kind=kind, target_id=int(raw_id))
    context = {"form": form, "preview": preview}
    if request.method != "POST":
        return render(request, "support/report.html", context)
    if not form.is_valid():
        return render(request, "support/report.html", context, status=400)
    try:
        filed = services.report_file(
            reporter_id=member_id,
            target_kind=form.cleaned_data["kind"],
            target_id=form.cleaned_data["id"],
            reason=form.cleaned_data["reason"],
            comment=form.cleaned_data["comment"],
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _with_headers(render(request, "support/report.html", context, status=error.status), error)
    messages.success(request, _("Thank you. Staff will look at it, and you will be told how it ends."))
    return redirect(_ticket_url(filed.ticket_id))


# --- Files ----------------------------------------------------------------------------------------------


def attachment_download(
    request: HttpRequest, attachment_id: int, name: str, thumbnail: bool = False
) -> HttpResponseBase:
    """The only way to a ticket file's bytes: 404 unless the viewer sees its message (an internal
    note's: staff only) or uploaded it and no message took it yet, whatever the id or name guessed."""
    viewer_id = (
        int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None
    )
    found = selectors.attachment_for_download(viewer_id=viewer_id, attachment_id=attachment_id)
    if found is None or (thumbnail and not found.thumbnail_key):
        raise NotFound(_("There is no such file."))
    response = serve_download(
        request,
        storage_key=found.thumbnail_key if thumbnail else found.storage_key,
        content_type=THUMBNAIL_CONTENT_TYPE if thumbnail else found.content_type,
        filename=found.original_name,
        as_attachment=not found.content_type.startswith("image/"),
    )
    response["Vary"] = "Cookie"
    return response
