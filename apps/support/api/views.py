"""API of the support app: help topics, a member's tickets and reports, one ticket with its
conversation, replies and notes, the staff's queue and changes (state, priority, assignee, a report's
outcome), a report's evidence, canned replies, and uploads for ticket messages.

A ticket the caller may not see answers 404, as one that does not exist: a member sees their own
tickets (without internal notes), a reporter their report and its ticket's state and outcome, staff
(``support.handle_tickets``) everything. Lists and a ticket run a fixed number of queries whatever
they hold. Refusals come back in the one error shape (400, 403, 404, 409, 429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.support import selectors, services
from apps.support.models import (
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    Outcome,
    Priority,
    ReportReason,
    ReportTarget,
    TicketKind,
    TicketState,
)
from forum.api import PAGE_PARAMETER, AttachmentOutput, page_asked
from forum.errors import ErrorSerializer, NotFound, ValidationFailed
from forum.paging import page_as_asked

TAGS = ["support"]
_MAX_ID = 2**63 - 1
PRIORITY_NAMES = [priority.name.lower() for priority in Priority]
OUTCOMES = [value for value in Outcome.values if value]


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def _staff_or_404(user_id: int) -> None:
    if not selectors.is_staff(user_id):
        raise NotFound(_("There is no such page."))


class _MemberView(APIView):
    permission_classes = [IsAuthenticated]


def _attachment_ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID),
        required=False,
        max_length=20,
        help_text="Ids of the caller's uploads (`POST /api/v1/support/attachments`) not yet on a message.",
    )


# --- Parts of the answers -----------------------------------------------------------------------------


class SupportPersonItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()


class SupportSlaItem(serializers.Serializer[Any]):
    target = serializers.ChoiceField(
        choices=["first_response", "resolution"], help_text="The target running now."
    )
    due_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField(help_text="Negative once the target is missed.")
    breached = serializers.BooleanField()


class SupportTicketItem(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The ticket's number (#12).")
    kind = serializers.ChoiceField(choices=TicketKind.values)
    subject = serializers.CharField()
    state = serializers.ChoiceField(choices=TicketState.choices)
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES, source="priority_name")
    topic = serializers.SerializerMethodField()
    member = serializers.SerializerMethodField(help_text="Who opened it; empty for a report's ticket.")
    assignee = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(help_text="`action_taken`, `no_action` or empty.")
    report_count = serializers.IntegerField(help_text="Reports merged into it (report tickets).")
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=ReportReason.choices))
    link_kind = serializers.CharField(help_text="What it is about in another app: `post`, `warning`...")
    link_id = serializers.IntegerField(allow_null=True)
    sla = SupportSlaItem(allow_null=True, help_text="Empty once resolved or closed.")
    url = serializers.SerializerMethodField(help_text="The ticket's page.")

    def get_topic(self, row: selectors.TicketRow) -> dict[str, Any]:
        return {"id": row.topic_id, "name": row.topic_name}

    def get_member(self, row: selectors.TicketRow) -> dict[str, Any] | None:
        return {"id": row.member_id, "username": row.member_name} if row.member_id else None

    def get_assignee(self, row: selectors.TicketRow) -> dict[str, Any] | None:
        return {"id": row.assignee_id, "username": row.assignee_name} if row.assignee_id else None

    def get_url(self, row: selectors.TicketRow) -> str:
        return reverse("support:ticket", args=[row.id])


class SupportTicketPageOutput(serializers.Serializer[Any]):
    page = serializers.IntegerField(source="number")
    pages = serializers.IntegerField()
    total = serializers.IntegerField()
    tickets = SupportTicketItem(many=True, source="items")


class SupportAttachmentItem(AttachmentOutput):
    url_name = "support:attachment"
    thumbnail_url_name = "support:attachment-thumbnail"

    url = serializers.SerializerMethodField(
        help_text="Same origin; 404 to anyone who may not see the message."
    )


class SupportMessageItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    author = serializers.SerializerMethodField()
    by_staff = serializers.BooleanField()
    internal = serializers.BooleanField(help_text="An internal note: only staff see it.")
    body = serializers.CharField(help_text="Markdown, as written.")
    body_html = serializers.CharField(help_text="Rendered and sanitized, safe to insert.")
    created_at = serializers.DateTimeField()
    attachments = SupportAttachmentItem(many=True)

    def get_author(self, message: selectors.MessageRow) -> dict[str, Any]:
        return {"id": message.author_id, "username": message.author_name}


class SupportReportItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    reporter = serializers.SerializerMethodField()
    target_kind = serializers.ChoiceField(choices=ReportTarget.values)
    target_id = serializers.IntegerField()
    target_label = serializers.CharField(help_text="The thread's title or the member's name.")
    target_url = serializers.CharField(
        help_text="Where to see it (empty for a dialog message: see the evidence)."
    )
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    comment = serializers.CharField()
    excerpt = serializers.CharField(help_text="The words reported, as they read when reported.")
    created_at = serializers.DateTimeField()

    def get_reporter(self, report: selectors.ReportRow) -> dict[str, Any]:
        return {"id": report.reporter_id, "username": report.reporter_name}


class SupportHistoryItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    actor = serializers.SerializerMethodField(help_text="Empty when the system did it.")
    kind = serializers.CharField()
    changes = serializers.DictField(
        source="data", help_text="What changed: `from` and `to`, or the act's values."
    )
    created_at = serializers.DateTimeField()

    def get_actor(self, entry: selectors.HistoryRow) -> dict[str, Any] | None:
        return {"id": entry.actor_id, "username": entry.actor_name} if entry.actor_id else None


class SupportTicketDetailOutput(serializers.Serializer[Any]):
    ticket = SupportTicketItem(source="row")
    access = serializers.ChoiceField(
        choices=[access.value for access in selectors.Access],
        help_text="`staff` sees everything; `member` the public conversation; `reporter` their report and "
        "the ticket's state and outcome.",
    )
    messages = SupportMessageItem(many=True, help_text="Oldest first; none for a reporter.")
    reports = SupportReportItem(many=True, help_text="All for staff, the caller's own for a reporter.")
    history = SupportHistoryItem(many=True, help_text="Staff only.")
    evidence_count = serializers.IntegerField(help_text="Staff only: dialog messages copied as evidence.")
    reported_member = serializers.SerializerMethodField(help_text="Staff only: whose content was reported.")

    def get_reported_member(self, detail: selectors.TicketDetail) -> dict[str, Any] | None:
        if detail.reported_member_id is None:
            return None
        return {"id": detail.reported_member_id, "username": detail.reported_member_name}


class SupportTicketRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    priority = serializers.CharField()
    assignee_id = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()


def _detail_output(detail: selectors.TicketDetail) -> dict[str, Any]:
    data: dict[str, Any] = dict(SupportTicketDetailOutput(detail).data)
    if detail.access is selectors.Access.REPORTER:
        # A reporter hears how it ends, and nothing about who else reported or who handles it.
        ticket = dict(data["ticket"])
        ticket.update(report_count=0, reasons=[], assignee=None, sla=None)
        data["ticket"] = ticket
    return data


def _detail_or_404(viewer_id: int, ticket_id: int) -> selectors.TicketDetail:
    detail = selectors.ticket_detail(viewer_id=viewer_id, ticket_id=ticket_id)
    if detail is None:
        raise NotFound(_("There is no such ticket."))
    return detail


# --- Topics ---------------------------------------------------------------------------------------------


class SupportTopicListView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        code = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()

    @extend_schema(
        tags=TAGS,
        summary="Help topics",
        description="The topics a member may open a ticket in, in the order staff gave them.",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(services.topics_public(), many=True).data)


# --- Tickets --------------------------------------------------------------------------------------------


class SupportTicketListView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        topic_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
        subject = serializers.CharField(max_length=SUBJECT_MAX_LENGTH)
        body = serializers.CharField(max_length=BODY_MAX_LENGTH, help_text="Markdown.")
        attachment_ids = _attachment_ids()

    @extend_schema(
        tags=TAGS,
        summary="The caller's tickets",
        operation_id="support_tickets_list",
        description="The tickets the caller opened, the most recently active first (reports are under "
        "`/api/v1/support/reports`).",
        parameters=[PAGE_PARAMETER],
        responses={200: SupportTicketPageOutput},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = selectors.member_ticket_page(member_id=_member_id(request), page=asked)
        return Response(SupportTicketPageOutput(page_as_asked(page, asked)).data)

    @extend_schema(
        tags=TAGS,
        summary="Open a ticket",
        description="In one of the public topics, with a first message and files uploaded beforehand. "
        "`ticket.create` (a ban leaves it); at most 10 open tickets (409 `too_many_open_tickets`).",
        request=InputSerializer,
        responses={201: SupportTicketRefOutput, 409: _error("Too many open tickets.")},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        ticket = services.ticket_open(member_id=_member_id(request), **given.validated_data)
        return Response(SupportTicketRefOutput(ticket).data, status=status.HTTP_201_CREATED)


class SupportQueueView(_MemberView):
    @extend_schema(
        tags=TAGS,
        summary="The staff's queue",
        description="Staff only (404 to anyone else). Active tickets by default, most urgent then oldest "
        "first.",
        parameters=[
            PAGE_PARAMETER,
            OpenApiParameter("state", str, description="A state, `active` (the default) or `all`."),
            OpenApiParameter("kind", str, enum=TicketKind.values, description="Only tickets of this kind."),
            OpenApiParameter("assignee", str, enum=["me", "none"], description="Mine, or nobody's."),
            OpenApiParameter("breached", bool, description="Only tickets past an SLA target now."),
        ],
        responses={200: SupportTicketPageOutput},
    )
    def get(self, request: Request) -> Response:
        member_id = _member_id(request)
        _staff_or_404(member_id)
        asked = page_asked(request)
        params = request.query_params
        state = params.get("state", "")
        if state and state not in (*TicketState.values, "active", "all"):
            raise ValidationFailed(_("Unknown state."), fields={"state": [_("Choose one of the states.")]})
        page = selectors.staff_ticket_page(
            viewer_id=member_id,
            page=asked,
            state=state,
            kind=params.get("kind", ""),
            assignee=params.get("assignee", ""),
            breached=params.get("breached", "").lower() in ("1", "true"),
        )
        return Response(SupportTicketPageOutput(page_as_asked(page, asked)).data)


class SupportTicketDetailView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        state = serializers.ChoiceField(choices=TicketState.choices, required=False)
        outcome = serializers.ChoiceField(choices=OUTCOMES, required=False)
        priority = serializers.ChoiceField(choices=PRIORITY_NAMES, required=False)
        assignee_id = serializers.IntegerField(
            min_value=1, max_value=_MAX_ID, required=False, allow_null=True, help_text="null: nobody."
        )

    @extend_schema(tags=TAGS, summary="A ticket", responses={200: SupportTicketDetailOutput})
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(_detail_output(_detail_or_404(_member_id(request), ticket_id)))

    @extend_schema(
        tags=TAGS,
        summary="Change a ticket",
        description="Staff: `state` (a report's ticket needs an `outcome` to be resolved or closed), "
        "`priority`, `assignee_id` (a member of staff, or null). The member may only set their own "
        "ticket's `state` to `resolved`. Each change is kept in the ticket's history.",
        request=InputSerializer,
        responses={200: SupportTicketDetailOutput},
    )
    def patch(self, request: Request, ticket_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        member_id = _member_id(request)
        _detail_or_404(member_id, ticket_id)
        values = given.validated_data
        with transaction.atomic():  # all the changes asked, or none
            self._apply(member_id, ticket_id, values)
        return Response(_detail_output(_detail_or_404(member_id, ticket_id)))

    @staticmethod
    def _apply(member_id: int, ticket_id: int, values: dict[str, Any]) -> None:
        if "assignee_id" in values:
            services.ticket_assign(actor_id=member_id, ticket_id=ticket_id, assignee_id=values["assignee_id"])
        if "priority" in values:
            services.ticket_priority_set(actor_id=member_id, ticket_id=ticket_id, priority=values["priority"])
        if "state" in values:
            services.ticket_state_set(
                actor_id=member_id,
                ticket_id=ticket_id,
                state=values["state"],
                outcome=values.get("outcome", ""),
            )


class SupportTicketMessagesView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField(max_length=BODY_MAX_LENGTH, help_text="Markdown.")
        internal = serializers.BooleanField(
            required=False, default=False, help_text="Staff: an internal note."
        )
        state = serializers.ChoiceField(
            choices=TicketState.choices,
            required=False,
            help_text="Staff: the state after it (a public reply leaves the ticket waiting on the member).",
        )
        attachment_ids = _attachment_ids()

    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        ticket_id = serializers.IntegerField()
        author_id = serializers.IntegerField()
        internal = serializers.BooleanField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        tags=TAGS,
        summary="Reply on a ticket",
        description="The member answers their own ticket (it reopens within SUPPORT_REOPEN_DAYS of its "
        "resolution; 409 `ticket_closed` after that); staff reply or write an internal note. A "
        "report's ticket takes notes only (409 `no_member_to_answer`); a reporter does not write (403).",
        request=InputSerializer,
        responses={201: OutputSerializer, 409: _error("Closed, or nobody to answer.")},
    )
    def post(self, request: Request, ticket_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        message = services.ticket_reply(
            author_id=_member_id(request), ticket_id=ticket_id, **given.validated_data
        )
        return Response(self.OutputSerializer(message).data, status=status.HTTP_201_CREATED)


class SupportReportResolveView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        outcome = serializers.ChoiceField(choices=OUTCOMES)
        note = serializers.CharField(max_length=BODY_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Resolve a report",
        description="Staff: `action_taken` or `no_action`, which is all the reporters are told; the "
        "optional note stays internal.",
        request=InputSerializer,
        responses={200: SupportTicketRefOutput, 409: _error("Not a report, or resolved already.")},
    )
    def post(self, request: Request, ticket_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        ticket = services.report_resolve(
            actor_id=_member_id(request), ticket_id=ticket_id, **given.validated_data
        )
        return Response(SupportTicketRefOutput(ticket).data)


class SupportEvidenceView(_MemberView):
    class OutputSerializer(serializers.Serializer[Any]):
        message_id = serializers.IntegerField()
        dialog_id = serializers.IntegerField()
        author = serializers.SerializerMethodField()
        body_html = serializers.CharField()
        written_at = serializers.DateTimeField()
        reported = serializers.BooleanField(help_text="The message reported, not one around it.")

        def get_author(self, item: services.EvidenceItem) -> dict[str, Any]:
            return {"id": item.author_id, "username": item.author_name}

    @extend_schema(
        tags=TAGS,
        summary="A report's evidence",
        description="Staff only (404 to anyone else): the dialog messages copied when a message was "
        "reported. Every call is logged with the caller and the time.",
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request, ticket_id: int) -> Response:
        evidence = services.ticket_evidence(staff_id=_member_id(request), ticket_id=ticket_id, surface="api")
        return Response(self.OutputSerializer(evidence, many=True).data)


class SupportCannedReplyListView(_MemberView):
    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        title = serializers.CharField()
        body = serializers.CharField(
            help_text="With `{member}` and `{ticket}` filled in when `ticket` is given."
        )

    @extend_schema(
        tags=TAGS,
        summary="Canned replies",
        description="Staff only (404 to anyone else).",
        parameters=[OpenApiParameter("ticket", int, description="Fill the placeholders in for this ticket.")],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        member_id = _member_id(request)
        _staff_or_404(member_id)
        raw = request.query_params.get("ticket", "")
        if raw and (not raw.isdigit() or len(raw) > 18):
            raise ValidationFailed(_("A ticket number is expected."), fields={"ticket": [_("A number.")]})
        items = [
            {
                "id": canned.id,
                "title": canned.title,
                "body": services.canned_reply_render(
                    actor_id=member_id, canned_id=canned.id, ticket_id=int(raw)
                )
                if raw
                else canned.body,
            }
            for canned in selectors.canned_replies()
        ]
        return Response(self.OutputSerializer(items, many=True).data)


# --- Reports --------------------------------------------------------------------------------------------


class SupportMyReportItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    ticket_id = serializers.IntegerField()
    target_kind = serializers.ChoiceField(choices=ReportTarget.values)
    target_id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=TicketState.choices, help_text="Its ticket's state.")
    outcome = serializers.CharField(help_text="`action_taken`, `no_action`, or empty while open.")


class SupportReportListView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        target_kind = serializers.ChoiceField(choices=ReportTarget.values)
        target_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
        reason = serializers.ChoiceField(choices=ReportReason.choices)
        comment = serializers.CharField(
            max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True, help_text="Needed for `other`."
        )

    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        ticket_id = serializers.IntegerField()
        target_kind = serializers.CharField()
        target_id = serializers.IntegerField()
        reason = serializers.CharField()
        merged = serializers.BooleanField(help_text="Others had reported it already: their ticket took it.")

    class PageOutput(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        reports = SupportMyReportItem(many=True, source="items")

    @extend_schema(
        tags=TAGS,
        summary="The caller's reports",
        operation_id="support_reports_list",
        description="Newest first, each with its ticket's state and outcome.",
        parameters=[PAGE_PARAMETER],
        responses={200: PageOutput},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = selectors.reporter_report_page(reporter_id=_member_id(request), page=asked)
        return Response(self.PageOutput(page_as_asked(page, asked)).data)

    @extend_schema(
        tags=TAGS,
        summary="Report something",
        description="A post, a thread, a member, or a message of a dialog the caller takes part in (what "
        "the caller may not see answers 404). One of the day's `report.create_per_day` (429 when used "
        "up). Reports on one object merge into its open ticket; the same member twice: 409 "
        "`already_reported`. Oneself or one's own content: 400 `report_self`.",
        request=InputSerializer,
        responses={201: OutputSerializer, 409: _error("Reported already."), 429: _error("Quota used up.")},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        report = services.report_file(reporter_id=_member_id(request), **given.validated_data)
        return Response(self.OutputSerializer(report).data, status=status.HTTP_201_CREATED)


# --- Uploads --------------------------------------------------------------------------------------------


class SupportAttachmentUploadView(_MemberView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(allow_empty_file=True, help_text="The type is decided from the content.")

    @extend_schema(
        tags=TAGS,
        summary="Upload a file for a ticket message",
        description="Pass its id in `attachment_ids` when opening a ticket or replying. Until then only the "
        "caller can download it. Types and size follow the upload policy.",
        request={"multipart/form-data": InputSerializer},
        responses={
            201: SupportAttachmentItem,
            409: _error("Too many uploads waiting for a message."),
            413: _error("The file is too large."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        attachment = services.attachment_upload(
            uploader_id=_member_id(request), file=given.validated_data["file"]
        )
        return Response(SupportAttachmentItem(attachment).data, status=status.HTTP_201_CREATED)


class SupportAttachmentDiscardView(_MemberView):
    @extend_schema(
        tags=TAGS,
        summary="Take back an upload",
        description="Deletes one of the caller's uploads that no message took yet. 404 for anything else.",
        responses={204: None, 404: _error("Not an upload of the caller's waiting for a message.")},
    )
    def delete(self, request: Request, attachment_id: int) -> Response:
        if not services.attachments_discard(uploader_id=_member_id(request), attachment_ids=[attachment_id]):
            raise NotFound(_("There is no such upload."))
        return Response(status=status.HTTP_204_NO_CONTENT)
