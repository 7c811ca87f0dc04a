"""API of the moderation app: a member's own warnings and standing, and staff warning a member or
revoking a warning (``moderation.warn``). Another member's warnings answer 404, as a member that does
not exist would. Refusals come back in the one error shape."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.admin import services, ticket_acts
from apps.admin.models import REASON_MAX_LENGTH, BanKind
from apps.admin.queue_count import queue_count_for
from apps.authorization.services import has_perm
from apps.support.services import HANDLE_PERMISSION
from forum.errors import ErrorSerializer, NotFound

TAGS = ["moderation"]
_MAX_ID = 2**63 - 1


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class WarningOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    type_id = serializers.IntegerField()
    type_name = serializers.CharField()
    message = serializers.CharField()
    points = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


class RestrictionOutput(serializers.Serializer[Any]):
    sanction = serializers.ChoiceField(choices=["premoderate", "no_posting", "ban"])
    label = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)


class StandingOutput(serializers.Serializer[Any]):
    active_points = serializers.IntegerField()
    warnings = WarningOutput(many=True)
    restrictions = RestrictionOutput(many=True)


class MyWarningsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="The caller's warnings",
        operation_id="moderation_my_warnings",
        description="Active points (warnings not expired nor revoked), every warning newest first, and "
        "the sanctions escalations put in force.",
        responses={200: StandingOutput},
    )
    def get(self, request: Request) -> Response:
        member_id = _member_id(request)
        standing = services.member_standing(viewer_id=member_id, member_id=member_id)
        return Response(StandingOutput(standing).data)


class MemberWarningsView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        warning_type_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)
        ticket_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID, required=False)

    @extend_schema(
        tags=TAGS,
        summary="A member's warnings (staff)",
        operation_id="moderation_member_warnings",
        responses={200: StandingOutput, 404: _error("No such member, or not staff.")},
    )
    def get(self, request: Request, member_id: int) -> Response:
        standing = services.member_standing(viewer_id=_member_id(request), member_id=member_id)
        return Response(StandingOutput(standing).data)

    @extend_schema(
        tags=TAGS,
        summary="Warn a member (staff)",
        description="`moderation.warn`. The type's points count until it expires; an escalation rule "
        "whose threshold the new total crosses is applied at once. `ticket_id`: the report's ticket "
        "it is given from (recorded in its history).",
        request=InputSerializer,
        responses={201: WarningOutput, 403: _error("Not staff."), 404: _error("No such member.")},
    )
    def post(self, request: Request, member_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        row = services.warning_issue(
            actor_id=_member_id(request), member_id=member_id, **given.validated_data
        )
        return Response(WarningOutput(row).data, status=status.HTTP_201_CREATED)


class WarningRevokeView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Revoke a warning (staff)",
        operation_id="moderation_warning_revoke",
        request=InputSerializer,
        responses={200: WarningOutput, 403: _error("Not staff."), 409: _error("Revoked already.")},
    )
    def post(self, request: Request, warning_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        row = services.warning_revoke(
            actor_id=_member_id(request), warning_id=warning_id, **given.validated_data
        )
        return Response(WarningOutput(row).data)


# --- Bans (administrators: ``moderation.ban``) ---------------------------------------------------------


class BanOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    member_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=BanKind.choices)
    reason = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    lifted_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


class MyBanOutput(serializers.Serializer[Any]):
    ban = BanOutput(allow_null=True)


class MyBanView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="The caller's running ban",
        operation_id="moderation_my_ban",
        description="The ban staff gave that runs longest, with its reason and end; `ban` null when none.",
        responses={200: MyBanOutput},
    )
    def get(self, request: Request) -> Response:
        return Response(MyBanOutput({"ban": services.ban_running(member_id=_member_id(request))}).data)


class MemberBansView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(choices=BanKind.choices, default=BanKind.POSTING)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH)
        ends_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(
        tags=TAGS,
        summary="A member's bans (administrators)",
        operation_id="moderation_member_bans",
        responses={200: BanOutput(many=True), 404: _error("No such member, or not an administrator.")},
    )
    def get(self, request: Request, member_id: int) -> Response:
        rows = services.member_bans(viewer_id=_member_id(request), member_id=member_id)
        return Response(BanOutput(rows, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Ban a member (administrators)",
        description="`moderation.ban`. `kind` `posting`: the member keeps reading; `full`: their "
        "sessions, token families and sockets end and sign-in is refused (403 `account_banned`). "
        "`ends_at` null or absent: permanent.",
        request=InputSerializer,
        responses={201: BanOutput, 403: _error("Not an administrator."), 404: _error("No such member.")},
    )
    def post(self, request: Request, member_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        row = services.ban_issue(actor_id=_member_id(request), member_id=member_id, **given.validated_data)
        return Response(BanOutput(row).data, status=status.HTTP_201_CREATED)


class BanLiftView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Lift a ban early (administrators)",
        operation_id="moderation_ban_lift",
        request=InputSerializer,
        responses={200: BanOutput, 403: _error("Not an administrator."), 409: _error("Over already.")},
    )
    def post(self, request: Request, ban_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        row = services.ban_lift(actor_id=_member_id(request), ban_id=ban_id, **given.validated_data)
        return Response(BanOutput(row).data)


class CreatedOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()


class EmailBansView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        pattern = serializers.CharField(max_length=254)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Ban an email address or pattern (administrators)",
        description="An address, or a pattern such as `*@spam.example`: refused at sign-up and email "
        "change (403 `signup_refused`).",
        operation_id="moderation_email_ban_add",
        request=InputSerializer,
        responses={201: CreatedOutput, 403: _error("Not an administrator."), 409: _error("Banned already.")},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        ban_id = services.email_ban_add(actor_id=_member_id(request), **given.validated_data)
        return Response(CreatedOutput({"id": ban_id}).data, status=status.HTTP_201_CREATED)


class EmailBanView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Remove an email ban (administrators)",
        operation_id="moderation_email_ban_remove",
        responses={204: None, 403: _error("Not an administrator."), 404: _error("No such ban.")},
    )
    def delete(self, request: Request, ban_id: int) -> Response:
        services.email_ban_remove(actor_id=_member_id(request), ban_id=ban_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressBansView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        network = serializers.CharField(max_length=64)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Ban an IP address or network (administrators)",
        description="IPv4 or IPv6, an address or a network: refused at sign-up and on every write "
        "(403 `address_banned`).",
        operation_id="moderation_address_ban_add",
        request=InputSerializer,
        responses={201: CreatedOutput, 403: _error("Not an administrator."), 409: _error("Banned already.")},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        ban_id = services.address_ban_add(actor_id=_member_id(request), **given.validated_data)
        return Response(CreatedOutput({"id": ban_id}).data, status=status.HTTP_201_CREATED)


class AddressBanView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Remove an address ban (administrators)",
        operation_id="moderation_address_ban_remove",
        responses={204: None, 403: _error("Not an administrator."), 404: _error("No such ban.")},
    )
    def delete(self, request: Request, ban_id: int) -> Response:
        services.address_ban_remove(actor_id=_member_id(request), ban_id=ban_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TicketActOutput(serializers.Serializer[Any]):
    ticket_id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=ticket_acts.ACTIONS)
    resolved = serializers.BooleanField(help_text="Whether the report was resolved by this call.")
    warning_id = serializers.IntegerField(allow_null=True)
    ban_id = serializers.IntegerField(allow_null=True)


class TicketActView(APIView):
    """An act on what a report's ticket is about, from the ticket (staff)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        action = serializers.ChoiceField(choices=ticket_acts.ACTIONS)
        reason = serializers.CharField(
            max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
        )
        resolve = serializers.BooleanField(required=False, default=False)
        warning_type_id = serializers.IntegerField(
            min_value=1, max_value=_MAX_ID, required=False, default=None
        )
        forum_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID, required=False, default=None)
        ban_kind = serializers.ChoiceField(choices=BanKind.choices, required=False, default="")
        ban_ends_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(
        tags=TAGS,
        summary="Act on a report from its ticket (staff)",
        operation_id="moderation_ticket_act",
        description="On a report's ticket: `post_hide`, `post_restore` (a reported post); `thread_close`, "
        "`thread_reopen`, `thread_move` (`forum_id`), `thread_delete` (a reported thread); `warn` "
        "(`warning_type_id`, `reason`) and `ban` (administrators: `ban_kind`, `reason`, `ban_ends_at` or "
        "null for permanent) the reported member; `dismiss` (resolved with no action, `reason` kept as "
        "an internal note). Each act goes through its owning app's services, is written to the ticket's "
        "history and the staff action log. `resolve`: also resolve the report with the outcome "
        "`action_taken` (its reporters are told). 404 for anyone but staff; 403 for an act the permission "
        "engine does not allow the caller (`thread.moderate`, `moderation.warn`, `moderation.ban`); 400 "
        "for an act that does not fit what was reported.",
        request=InputSerializer,
        responses={
            200: TicketActOutput,
            400: _error("Bad input, or an act that does not fit what was reported."),
            403: _error("The act is not allowed to the caller."),
            404: _error("No such ticket, or not staff."),
            409: _error("The act is done already (a post not hidden, a report resolved)."),
        },
    )
    def post(self, request: Request, ticket_id: int) -> Response:
        actor_id = _member_id(request)
        if not has_perm(user_id=actor_id, permission=HANDLE_PERMISSION):
            raise NotFound(_("There is no such ticket."))
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        result = ticket_acts.ticket_act(actor_id=actor_id, ticket_id=ticket_id, **given.validated_data)
        return Response(TicketActOutput(result).data)


class QueueCountOutput(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="Threads awaiting premoderation and open reports.")


class QueueCountView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="The moderation queue's count (staff)",
        operation_id="moderation_queue_count",
        description='What the staff header shows as "Moderation (N)": threads awaiting premoderation '
        "and open reports. Live on the WebSocket topic `modqueue:all` (frames `moderation.queue_count` "
        "with `{count}`). 404 for anyone but staff (`moderation.warn`).",
        responses={200: QueueCountOutput, 404: _error("Not staff.")},
    )
    def get(self, request: Request) -> Response:
        count = queue_count_for(viewer_id=_member_id(request))
        if count is None:
            raise NotFound(_("There is no such page."))
        return Response({"count": count})
