"""API of the dialog app: a member's dialogs, their messages (cursor pages both ways), read receipts,
participants, attachments, blocks and the privacy choice.

Only participants see a dialog: any other caller, staff included, gets 404 as for a dialog that does
not exist. Writes go through the services, whose refusals come back in the one error shape (400, 403,
404, 409, 429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.dialog import selectors, services
from apps.dialog.forms import usernames_in
from apps.dialog.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.api import PAGE_PARAMETER, AttachmentOutput, page_asked
from forum.errors import ErrorSerializer, NotFound, ValidationFailed
from forum.paging import page_as_asked

TAGS = ["dialogs"]
_MAX_ID = 2**63 - 1


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def _dialog_or_404(viewer_id: int, dialog_id: int) -> selectors.DialogRow:
    dialog = selectors.dialog_row(viewer_id=viewer_id, dialog_id=dialog_id)
    if dialog is None:
        raise NotFound(_("There is no such dialog."))
    return dialog


def _ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID), min_length=1, max_length=500
    )


class _MemberView(APIView):
    permission_classes = [IsAuthenticated]


# --- Parts of the answers -----------------------------------------------------------------------------


class DialogParticipantItem(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    joined_at = serializers.DateTimeField()
    last_read_message_id = serializers.IntegerField(help_text="How far they have read (0: nothing).")
    is_owner = serializers.BooleanField()


class DialogLastMessageItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    author = serializers.CharField()
    text = serializers.CharField(help_text="Plain text, the first words.")
    created_at = serializers.DateTimeField()


class DialogItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    is_group = serializers.BooleanField()
    title = serializers.CharField(help_text="A group's title; empty for one-to-one dialogs.")
    name = serializers.CharField(help_text="The title, or the other member's name.")
    owner_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(help_text="Last activity: the list's order.")
    last_message = DialogLastMessageItem(allow_null=True)
    participants = DialogParticipantItem(many=True)
    last_read_message_id = serializers.IntegerField(help_text="The caller's read position.")
    unread_count = serializers.IntegerField(help_text="Messages of others the caller has not read.")


class DialogPageOutput(serializers.Serializer[Any]):
    page = serializers.IntegerField(source="number")
    pages = serializers.IntegerField()
    total = serializers.IntegerField()
    dialogs = DialogItem(many=True, source="items")


class DialogAttachmentItem(AttachmentOutput):
    url_name = "dialog:attachment"
    thumbnail_url_name = "dialog:attachment-thumbnail"

    message_id = serializers.IntegerField(
        allow_null=True, help_text="Empty until a message takes the upload."
    )
    url = serializers.SerializerMethodField(help_text="Same origin; 404 to anyone but the participants.")


class DialogMessageItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    dialog_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    author = serializers.CharField()
    body = serializers.CharField(help_text="Markdown, as written.")
    body_html = serializers.CharField(help_text="Rendered and sanitized, safe to insert.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    attachments = DialogAttachmentItem(many=True)
    seen_by = serializers.ListField(
        child=serializers.IntegerField(), help_text="Participants (not the author) who have read it."
    )
    can_change = serializers.BooleanField(help_text="The caller wrote it and may still edit or delete it.")


class DialogRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    is_group = serializers.BooleanField()
    title = serializers.CharField()
    owner_id = serializers.IntegerField()
    participant_ids = serializers.ListField(child=serializers.IntegerField())
    created = serializers.BooleanField(help_text="False when an existing one-to-one dialog was returned.")


class DialogMessageRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    dialog_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)


class DialogReadOutput(serializers.Serializer[Any]):
    dialog_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField()
    unread_count = serializers.IntegerField()


def _body() -> serializers.CharField:
    return serializers.CharField(max_length=BODY_MAX_LENGTH, trim_whitespace=True, help_text="Markdown.")


def _attachment_ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID),
        required=False,
        max_length=100,
        help_text="Ids of the caller's uploads in this dialog (`POST /api/v1/dialogs/{id}/attachments`) "
        "not yet on a message; at most `dialog.attachments_max`.",
    )


# --- Dialogs ------------------------------------------------------------------------------------------


class DialogListView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        participant_ids = _ids()
        title = serializers.CharField(
            max_length=TITLE_MAX_LENGTH,
            required=False,
            allow_blank=True,
            help_text="Makes a group dialog. Without it, one member makes a one-to-one dialog.",
        )
        body = serializers.CharField(
            max_length=BODY_MAX_LENGTH, required=False, allow_blank=True, help_text="A first message, if any."
        )

    @extend_schema(
        tags=TAGS,
        summary="The caller's dialogs",
        operation_id="dialogs_list",
        description="The most recently active first, with the last message and the caller's unread count.",
        parameters=[PAGE_PARAMETER],
        responses={200: DialogPageOutput},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = selectors.dialog_page(viewer_id=_member_id(request), page=asked)
        return Response(DialogPageOutput(page_as_asked(page, asked)).data)

    @extend_schema(
        tags=TAGS,
        summary="Start a dialog",
        description="One member and no title: the one-to-one dialog with them, the existing one when there "
        "is one (200, `created` false) or a new one (201). A title: a group with the caller as its owner, "
        "at most `dialog.max_participants` members in all (`too_many_participants`). A new dialog takes "
        "one of the day's `dialog.start_per_day` (429 when used up). A member who cannot be written to "
        "answers 403 `cannot_message`, whatever the reason (blocked, accepting only people they follow, "
        "no such member).",
        request=InputSerializer,
        responses={
            200: DialogRefOutput,
            201: DialogRefOutput,
            403: _error("`cannot_message`, or the caller may not start dialogs."),
            429: _error("Quota used up."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        member_id = _member_id(request)
        ids = list(dict.fromkeys(given.validated_data["participant_ids"]))
        title: str = given.validated_data.get("title", "")
        others = [user_id for user_id in ids if user_id != member_id]
        if not title.strip() and len(ids) == 1:
            dialog = services.dialog_start(starter_id=member_id, recipient_id=ids[0])
        else:
            if not others:
                message = _("Choose at least one member to write to.")
                raise ValidationFailed(message, fields={"participant_ids": [message]})
            dialog = services.dialog_group_start(owner_id=member_id, title=title, participant_ids=others)
        body: str = given.validated_data.get("body", "").strip()
        if body:
            services.message_create(author_id=member_id, dialog_id=dialog.id, body=body)
        code = status.HTTP_201_CREATED if dialog.created else status.HTTP_200_OK
        return Response(DialogRefOutput(dialog).data, status=code)


class DialogUnreadView(_MemberView):
    class OutputSerializer(serializers.Serializer[Any]):
        unread_dialogs = serializers.IntegerField(
            help_text="Dialogs holding messages the caller has not read."
        )

    @extend_schema(tags=TAGS, summary="The unread-dialogs badge", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        count = services.unread_dialog_count(user_id=_member_id(request))
        return Response(self.OutputSerializer({"unread_dialogs": count}).data)


class DialogDetailView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        title = serializers.CharField(max_length=TITLE_MAX_LENGTH)

    @extend_schema(tags=TAGS, summary="A dialog", responses={200: DialogItem})
    def get(self, request: Request, dialog_id: int) -> Response:
        return Response(DialogItem(_dialog_or_404(_member_id(request), dialog_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Rename a group",
        description="The owner only (`not_owner`); one-to-one dialogs have no title (`not_a_group`).",
        request=InputSerializer,
        responses={200: DialogRefOutput, 409: _error("Not a group.")},
    )
    def patch(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        dialog = services.dialog_rename(
            owner_id=_member_id(request), dialog_id=dialog_id, **given.validated_data
        )
        return Response(DialogRefOutput(dialog).data)


def _cursor(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 19:
        message = _("A message id is expected.")
        raise ValidationFailed(message, fields={name: [message]})
    return int(raw)


class DialogMessagesView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        body = _body()
        attachment_ids = _attachment_ids()

    class OutputSerializer(serializers.Serializer[Any]):
        messages = DialogMessageItem(many=True, source="items", help_text="Oldest first.")
        has_before = serializers.BooleanField(help_text="Older messages exist: `before` = the first id.")
        has_after = serializers.BooleanField(help_text="Newer messages exist: `after` = the last id.")

    @extend_schema(
        tags=TAGS,
        summary="A page of a dialog's messages",
        operation_id="dialog_messages_list",
        description="Oldest first. Without a cursor, the latest ones; `before=<message id>` the ones just "
        "before that message, `after=<message id>` the ones just after it (a tab that reconnects asks "
        "`after` its last message: nothing is missed, nothing repeated). Deleted messages are left out. "
        "Reading does not move the caller's read position; send a read receipt for that.",
        parameters=[
            OpenApiParameter("before", int, description="A message id: the messages before it."),
            OpenApiParameter("after", int, description="A message id: the messages after it."),
            OpenApiParameter("limit", int, description="At most this many (30 by default, 100 at most)."),
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, dialog_id: int) -> Response:
        dialog = _dialog_or_404(_member_id(request), dialog_id)
        before, after = _cursor(request, "before"), _cursor(request, "after")
        if before is not None and after is not None:
            message = _("Give either before or after, not both.")
            raise ValidationFailed(message, fields={"before": [message]})
        limit = _cursor(request, "limit") or selectors.MESSAGES_PER_PAGE
        page = selectors.message_page(dialog=dialog, before=before, after=after, limit=limit)
        return Response(self.OutputSerializer(page).data)

    @extend_schema(
        tags=TAGS,
        summary="Write a message",
        description="In a one-to-one dialog, a member who cannot be written to answers 403 `cannot_message`.",
        request=InputSerializer,
        responses={201: DialogMessageRefOutput},
    )
    def post(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        message = services.message_create(
            author_id=_member_id(request), dialog_id=dialog_id, **given.validated_data
        )
        return Response(DialogMessageRefOutput(message).data, status=status.HTTP_201_CREATED)


def _message_in(dialog_id: int, message_id: int, viewer_id: int) -> None:
    """404 unless the message is in this dialog and the viewer takes part in it."""
    location = selectors.message_location(message_id=message_id)
    if (
        location is None
        or location.deleted
        or location.dialog_id != dialog_id
        or not selectors.is_participant(user_id=viewer_id, dialog_id=dialog_id)
    ):
        raise NotFound(_("There is no such message."))


class DialogMessageView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        body = _body()

    @extend_schema(tags=TAGS, summary="A message", responses={200: DialogMessageItem})
    def get(self, request: Request, dialog_id: int, message_id: int) -> Response:
        dialog = _dialog_or_404(_member_id(request), dialog_id)
        message = selectors.message_one(dialog=dialog, message_id=message_id)
        if message is None:
            raise NotFound(_("There is no such message."))
        return Response(DialogMessageItem(message).data)

    @extend_schema(
        tags=TAGS,
        summary="Edit a message",
        description="One's own, within the edit window (`edit_window_over` after).",
        request=InputSerializer,
        responses={200: DialogMessageRefOutput},
    )
    def patch(self, request: Request, dialog_id: int, message_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        member_id = _member_id(request)
        _message_in(dialog_id, message_id, member_id)
        message = services.message_edit(editor_id=member_id, message_id=message_id, **given.validated_data)
        return Response(DialogMessageRefOutput(message).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a message",
        description="One's own, within the edit window; its attachments go with it.",
        responses={204: None},
    )
    def delete(self, request: Request, dialog_id: int, message_id: int) -> Response:
        member_id = _member_id(request)
        _message_in(dialog_id, message_id, member_id)
        services.message_delete(user_id=member_id, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DialogReadView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        message_id = serializers.IntegerField(
            min_value=0,
            max_value=_MAX_ID,
            required=False,
            allow_null=True,
            help_text="The last message seen; left out: the dialog's last message.",
        )

    @extend_schema(
        tags=TAGS,
        summary="Send a read receipt",
        description="Moves the caller's read position forward (never back); the other participants' open "
        "tabs learn it (`dialog.read`).",
        request=InputSerializer,
        responses={200: DialogReadOutput},
    )
    def post(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        read = services.dialog_mark_read(
            user_id=_member_id(request),
            dialog_id=dialog_id,
            message_id=given.validated_data.get("message_id"),
        )
        return Response(DialogReadOutput(read).data)


class DialogParticipantsView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        user_ids = _ids()

    @extend_schema(
        tags=TAGS,
        summary="Add members to a group",
        description="The owner only, within their `dialog.max_participants`; members who cannot be written "
        "to answer 403 `cannot_message`.",
        request=InputSerializer,
        responses={200: DialogRefOutput, 409: _error("Not a group.")},
    )
    def post(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        dialog = services.participants_add(
            owner_id=_member_id(request), dialog_id=dialog_id, user_ids=given.validated_data["user_ids"]
        )
        return Response(DialogRefOutput(dialog).data)


class DialogParticipantView(_MemberView):
    @extend_schema(
        tags=TAGS,
        summary="Remove a member from a group, or leave it",
        description="The owner removes others; anyone may remove themselves (leave). An owner who leaves "
        "hands the group to the member who has been in it longest.",
        responses={200: DialogRefOutput, 409: _error("Not a group.")},
    )
    def delete(self, request: Request, dialog_id: int, user_id: int) -> Response:
        member_id = _member_id(request)
        if user_id == member_id:
            dialog = services.dialog_leave(user_id=member_id, dialog_id=dialog_id)
        else:
            dialog = services.participant_remove(owner_id=member_id, dialog_id=dialog_id, user_id=user_id)
        return Response(DialogRefOutput(dialog).data)


class DialogAttachmentUploadView(_MemberView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(allow_empty_file=True, help_text="The type is decided from the content.")

    @extend_schema(
        tags=TAGS,
        summary="Upload an attachment",
        description="Stores a file for a message being written in this dialog: pass its id in "
        "`attachment_ids` when the message is written. Until then only the caller can download it. Types "
        "and size follow the upload policy (`file_type_not_allowed`, `file_too_large` 413...).",
        request={"multipart/form-data": InputSerializer},
        responses={
            201: DialogAttachmentItem,
            409: _error("Too many uploads waiting for a message."),
            413: _error("The file is too large."),
        },
    )
    def post(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        attachment = services.attachment_upload(
            uploader_id=_member_id(request), dialog_id=dialog_id, file=given.validated_data["file"]
        )
        return Response(DialogAttachmentItem(attachment).data, status=status.HTTP_201_CREATED)


class DialogAttachmentDiscardView(_MemberView):
    @extend_schema(
        tags=TAGS,
        summary="Take back an upload",
        description="Deletes one of the caller's uploads in this dialog that no message has taken yet, "
        "file included (the composer's remove button), so that it stops counting against the uploads "
        "that may wait. 404 for anything else.",
        responses={204: None, 404: _error("Not an upload of the caller's waiting in this dialog.")},
    )
    def delete(self, request: Request, dialog_id: int, attachment_id: int) -> Response:
        member_id = _member_id(request)
        _dialog_or_404(member_id, dialog_id)
        discarded = services.attachments_discard(
            uploader_id=member_id, attachment_ids=[attachment_id], dialog_id=dialog_id
        )
        if not discarded:
            raise NotFound(_("There is no such upload."))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DialogPreviewView(_MemberView):
    """The composer's Preview tab. Here rather than in the thread app's preview: a message renders
    differently from a post (mentions only of the dialog's participants, no post quotes)."""

    class InputSerializer(serializers.Serializer[Any]):
        # No max_length here: the service refuses a long text with its own code (``too_long``).
        body = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Markdown, as typed.")

    class OutputSerializer(serializers.Serializer[Any]):
        html = serializers.CharField(help_text="Sanitized, safe to insert: what the message would show.")

    @extend_schema(
        tags=TAGS,
        summary="Preview a message",
        description="Renders Markdown exactly as a message of the caller's in this dialog would be stored "
        f"(forum.markup; mentions link only to participants). Nothing is stored. At most {BODY_MAX_LENGTH} "
        "characters (400 `too_long`); at most `MARKUP_PREVIEW_PER_MINUTE` previews a minute per member, "
        "post previews included (429 with Retry-After).",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: _error("The text is too long."),
            404: _error("No such dialog for the caller."),
            429: _error("Too many previews in a minute."),
        },
    )
    def post(self, request: Request, dialog_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        html = services.message_preview(
            author_id=_member_id(request), dialog_id=dialog_id, body=given.validated_data["body"]
        )
        return Response(self.OutputSerializer({"html": html}).data)


class DialogNewPreviewView(_MemberView):
    """The composer's Preview on the new-dialog page, before the dialog exists: the first message as it
    would be stored, mentions linking only to the caller and the members named in ``recipients``."""

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Markdown, as typed.")
        recipients = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=4000,
            help_text="The usernames the dialog is for, separated by commas or spaces (as the page's "
            "To field): a mention of one of them is linked.",
        )

    class OutputSerializer(serializers.Serializer[Any]):
        html = serializers.CharField(help_text="Sanitized, safe to insert: what the message would show.")

    @extend_schema(
        tags=TAGS,
        summary="Preview the first message of a new dialog",
        operation_id="dialogs_new_preview",
        description="Renders Markdown exactly as the first message of a dialog the caller starts with "
        f"`recipients` would be stored (forum.markup). Nothing is stored. At most {BODY_MAX_LENGTH} "
        "characters (400 `too_long`); at most `MARKUP_PREVIEW_PER_MINUTE` previews a minute per member, "
        "post previews included (429 with Retry-After).",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: _error("The text is too long."),
            429: _error("Too many previews in a minute."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        html = services.message_preview_new(
            author_id=_member_id(request),
            body=given.validated_data["body"],
            recipient_usernames=usernames_in(given.validated_data.get("recipients", "")),
        )
        return Response(self.OutputSerializer({"html": html}).data)


# --- Blocks and privacy -------------------------------------------------------------------------------


class DialogBlockItem(serializers.Serializer[Any]):
    user_id = serializers.IntegerField(source="blocked_id")
    username = serializers.CharField()
    created_at = serializers.DateTimeField()


class DialogBlockListView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        user_id = serializers.IntegerField(min_value=1, max_value=_MAX_ID)

    class OutputSerializer(serializers.Serializer[Any]):
        blocks = DialogBlockItem(many=True)

    @extend_schema(tags=TAGS, summary="The members the caller blocked", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            self.OutputSerializer({"blocks": selectors.blocks_of(user_id=_member_id(request))}).data
        )

    @extend_schema(
        tags=TAGS,
        summary="Block a member",
        description="They can no longer start a dialog with the caller, add them to a group or write to "
        "them in a one-to-one dialog, and are never told. Idempotent.",
        request=InputSerializer,
        responses={200: OutputSerializer, 404: _error("No member has this id.")},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        member_id = _member_id(request)
        services.block_add(user_id=member_id, blocked_id=given.validated_data["user_id"])
        return Response(self.OutputSerializer({"blocks": selectors.blocks_of(user_id=member_id)}).data)


class DialogBlockView(_MemberView):
    @extend_schema(tags=TAGS, summary="Lift a block", description="Idempotent.", responses={204: None})
    def delete(self, request: Request, user_id: int) -> Response:
        services.block_remove(user_id=_member_id(request), blocked_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DialogPrivacyView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        followed_only = serializers.BooleanField(
            help_text="Accept new dialogs only from the people one follows (and staff)."
        )

    class OutputSerializer(serializers.Serializer[Any]):
        followed_only = serializers.BooleanField()

    @extend_schema(
        tags=TAGS, summary="Who may start dialogs with the caller", responses={200: OutputSerializer}
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(services.dialog_privacy_get(user_id=_member_id(request))).data)

    @extend_schema(
        tags=TAGS,
        summary="Choose who may start dialogs with the caller",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def put(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        privacy = services.dialog_privacy_set(user_id=_member_id(request), **given.validated_data)
        return Response(self.OutputSerializer(privacy).data)


class DialogSettingsView(_MemberView):
    class InputSerializer(serializers.Serializer[Any]):
        followed_only = serializers.BooleanField(
            required=False, help_text="Accept new dialogs only from the people one follows (and staff)."
        )
        enter_sends = serializers.BooleanField(
            required=False,
            help_text="In the dialog page's message box, Enter sends (Shift+Enter starts a new line); "
            "otherwise Enter starts a new line and Ctrl+Enter sends.",
        )

    class OutputSerializer(serializers.Serializer[Any]):
        followed_only = serializers.BooleanField()
        enter_sends = serializers.BooleanField()

    @extend_schema(tags=TAGS, summary="The caller's dialog settings", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(services.dialog_settings_get(user_id=_member_id(request))).data)

    @extend_schema(
        tags=TAGS,
        summary="Change the caller's dialog settings",
        description="Only the settings given change.",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def patch(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changed = services.dialog_settings_set(user_id=_member_id(request), **given.validated_data)
        return Response(self.OutputSerializer(changed).data)
