"""API of the composer: the preview of a post being written, and taking back an upload not yet sent.

The preview lives with the posts rather than in the kernel: forum.markup renders, but what a post
looks like also depends on whom its mentions name and which quoted posts the writer may see, which
only this app knows. Dialog messages have a preview of their own in the dialog app, because they
render differently (mentions only of participants, no post quotes).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.thread import services
from apps.thread.api.views import _error, _member_id
from apps.thread.models import BODY_MAX_LENGTH
from forum.errors import NotFound

TAGS = ["threads"]


class MarkupPreviewView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        # No max_length here: the service refuses a long text with its own code (``too_long``).
        body = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Markdown, as typed.")

    class OutputSerializer(serializers.Serializer[Any]):
        html = serializers.CharField(help_text="Sanitized, safe to insert: what the post would show.")

    @extend_schema(
        tags=TAGS,
        summary="Preview a post",
        description="Renders Markdown exactly as a post of the caller's would be stored (forum.markup: "
        "sanitized; mentions and post quotes resolved as for the caller). Nothing is stored. At most "
        f"{BODY_MAX_LENGTH} characters (400 `too_long`); at most `MARKUP_PREVIEW_PER_MINUTE` previews a "
        "minute per member, dialog previews included (429 with Retry-After).",
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
        html = services.post_preview(author_id=_member_id(request), body=given.validated_data["body"])
        return Response(self.OutputSerializer({"html": html}).data)


class AttachmentDiscardView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Take back an upload",
        description="Deletes one of the caller's uploads that no post has taken yet, file included (the "
        "composer's remove button), so that it stops counting against the uploads that may wait. 404 for "
        "anything else.",
        responses={204: None, 404: _error("Not an upload of the caller's waiting for a post.")},
    )
    def delete(self, request: Request, attachment_id: int) -> Response:
        if not services.attachments_discard(uploader_id=_member_id(request), attachment_ids=[attachment_id]):
            raise NotFound(_("There is no such upload."))
        return Response(status=status.HTTP_204_NO_CONTENT)
