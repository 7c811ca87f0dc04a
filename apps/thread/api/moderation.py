"""API of the thread app for moderators: replies held for premoderation, listed, approved, rejected.

Moderators only (``thread.moderate``): anyone else is refused with 403, as the thread moderation
endpoints are. A post that does not exist, or is deleted, is 404; one not awaiting approval 409.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.thread import services
from apps.thread.api.views import PostRefOutput, _error, _member_id
from apps.thread.models import REASON_MAX_LENGTH
from forum.api import PAGE_PARAMETER, page_asked
from forum.paging import page_as_asked

TAGS = ["moderation"]


class PendingPostItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    thread_id = serializers.IntegerField()
    thread_title = serializers.CharField()
    forum_id = serializers.IntegerField()
    forum_name = serializers.CharField()
    author_id = serializers.IntegerField()
    author = serializers.CharField(help_text="Username.")
    excerpt = serializers.CharField(help_text="The source on one line, shortened.")
    body_html = serializers.CharField(help_text="Rendered as it will show once approved, safe to insert.")
    created_at = serializers.DateTimeField()


class PendingPostPage(serializers.Serializer[Any]):
    page = serializers.IntegerField(source="number")
    pages = serializers.IntegerField()
    total = serializers.IntegerField()
    posts = PendingPostItem(many=True, source="items")


class PendingPostsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Replies awaiting approval",
        description="Replies of members whose posts are premoderated (an escalation's sanction), oldest "
        "first, with their thread, forum and author. For moderators (`thread.moderate`).",
        parameters=[PAGE_PARAMETER],
        responses={200: PendingPostPage, 403: _error("Not a moderator.")},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = services.posts_pending(moderator_id=_member_id(request), page=asked)
        return Response(PendingPostPage(page_as_asked(page, asked)).data)


class PostApproveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Approve a reply awaiting approval",
        description="It takes the thread's next position and is published as a new reply (notifications, "
        "live pages). For moderators (`thread.moderate`).",
        request=None,
        responses={
            200: PostRefOutput,
            403: _error("Not a moderator."),
            404: _error("No such post."),
            409: _error("The post does not await approval (`post_not_held`)."),
        },
    )
    def post(self, request: Request, post_id: int) -> Response:
        post = services.post_approve(moderator_id=_member_id(request), post_id=post_id)
        return Response(PostRefOutput(post).data)


class PostRejectView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text="Shown to the author.")

    @extend_schema(
        tags=TAGS,
        summary="Reject a reply awaiting approval",
        description="The reply is deleted and its author told why. For moderators (`thread.moderate`).",
        request=InputSerializer,
        responses={
            200: PostRefOutput,
            400: _error("No reason, or a reason too long."),
            403: _error("Not a moderator."),
            404: _error("No such post."),
            409: _error("The post does not await approval (`post_not_held`)."),
        },
    )
    def post(self, request: Request, post_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        post = services.post_reject(moderator_id=_member_id(request), post_id=post_id, **given.validated_data)
        return Response(PostRefOutput(post).data)
