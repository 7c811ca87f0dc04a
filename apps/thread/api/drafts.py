"""API of drafts kept on the server as the member types: a reply per thread, a new thread per forum.

A draft is its writer's alone. Writing one needs the right to post there (404 otherwise, as for a
target that does not exist); reading and deleting it only that the target is still visible.
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
from apps.thread.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.errors import NotFound

TAGS = ["drafts"]


class DraftItem(serializers.Serializer[Any]):
    thread_id = serializers.IntegerField(allow_null=True, help_text="Set for the draft of a reply.")
    forum_id = serializers.IntegerField(allow_null=True, help_text="Set for the draft of a new thread.")
    title = serializers.CharField(help_text="Empty for a reply.")
    body = serializers.CharField(help_text="As typed.")
    updated_at = serializers.DateTimeField()


def _body() -> serializers.CharField:
    return serializers.CharField(
        max_length=BODY_MAX_LENGTH, required=False, allow_blank=True, trim_whitespace=False, default=""
    )


def _found(draft: services.DraftRef | None) -> Response:
    if draft is None:
        raise NotFound(_("There is no draft."), code="no_draft")
    return Response(DraftItem(draft).data)


def _saved(draft: services.DraftRef | None) -> Response:
    if draft is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(DraftItem(draft).data)


_NOT_FOUND = _error("No such target, one the caller may not post in (to save), or no draft (`no_draft`).")
_SAVE_DESCRIPTION = (
    "Replaces what was kept. Nothing written (blank) deletes the draft and answers 204. The limits are a "
    "post's and a title's. Sending the post or thread deletes its draft. Drafts nobody touches for "
    "`THREAD_DRAFT_MAX_AGE_DAYS` are deleted."
)


class ThreadDraftView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        body = _body()

    @extend_schema(
        tags=TAGS,
        summary="My draft of a reply",
        responses={200: DraftItem, 404: _NOT_FOUND},
    )
    def get(self, request: Request, thread_id: int) -> Response:
        return _found(services.draft_get(user_id=_member_id(request), thread_id=thread_id))

    @extend_schema(
        tags=TAGS,
        summary="Keep a draft of a reply",
        description=_SAVE_DESCRIPTION,
        request=InputSerializer,
        responses={200: DraftItem, 204: None, 404: _NOT_FOUND},
    )
    def put(self, request: Request, thread_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        draft = services.draft_save(user_id=_member_id(request), thread_id=thread_id, **given.validated_data)
        return _saved(draft)

    @extend_schema(tags=TAGS, summary="Discard my draft of a reply", responses={204: None, 404: _NOT_FOUND})
    def delete(self, request: Request, thread_id: int) -> Response:
        services.draft_delete(user_id=_member_id(request), thread_id=thread_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForumDraftView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        title = serializers.CharField(
            max_length=TITLE_MAX_LENGTH, required=False, allow_blank=True, trim_whitespace=False, default=""
        )
        body = _body()

    @extend_schema(
        tags=TAGS,
        summary="My draft of a new thread",
        responses={200: DraftItem, 404: _NOT_FOUND},
    )
    def get(self, request: Request, forum_id: int) -> Response:
        return _found(services.draft_get(user_id=_member_id(request), forum_id=forum_id))

    @extend_schema(
        tags=TAGS,
        summary="Keep a draft of a new thread",
        description=_SAVE_DESCRIPTION,
        request=InputSerializer,
        responses={200: DraftItem, 204: None, 404: _NOT_FOUND},
    )
    def put(self, request: Request, forum_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        draft = services.draft_save(user_id=_member_id(request), forum_id=forum_id, **given.validated_data)
        return _saved(draft)

    @extend_schema(
        tags=TAGS, summary="Discard my draft of a new thread", responses={204: None, 404: _NOT_FOUND}
    )
    def delete(self, request: Request, forum_id: int) -> Response:
        services.draft_delete(user_id=_member_id(request), forum_id=forum_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
