"""API of one member's threads and posts: what a profile lists, as the thread pages would show it to
the caller.

The member is only a filter; the data is this app's, and so are the rules: a thread awaiting
moderation is its author's and the moderators' only, a forum the caller may not read hides what is in
it, and a deleted post is gone. Both lists cost a fixed number of queries whatever their page size.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.thread import selectors
from apps.thread.api.views import PostInThreadItem, ThreadPage, _viewer
from apps.user.services import users_brief
from forum.api import PAGE_PARAMETER, page_asked
from forum.errors import NotFound
from forum.paging import page_as_asked

TAGS = ["members"]


def _member_required(user_id: int) -> None:
    """NotFound when no account has this id (one query); a closed account's writing stays listed."""
    if not users_brief(user_ids=[user_id]):
        raise NotFound(_("There is no such member."))


class MemberThreadsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=TAGS,
        summary="A member's threads",
        description="The threads the member started that the caller may see, newest first, "
        f"{selectors.THREADS_PER_PAGE} a page; 404 when no member has this id.",
        parameters=[PAGE_PARAMETER],
        responses={200: ThreadPage},
    )
    def get(self, request: Request, user_id: int) -> Response:
        asked = page_asked(request)
        _member_required(user_id)
        page = selectors.member_thread_page(viewer=_viewer(request), author_id=user_id, page=asked)
        return Response(ThreadPage(page_as_asked(page, asked)).data)


class MemberPostsView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        posts = PostInThreadItem(many=True, source="items")

    @extend_schema(
        tags=TAGS,
        summary="A member's posts",
        description="The posts the member wrote that the caller may see (not deleted, in threads the "
        f"caller may open), newest first, {selectors.POSTS_PER_PAGE} a page, each with its thread's "
        "title; 404 when no member has this id.",
        parameters=[PAGE_PARAMETER],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, user_id: int) -> Response:
        asked = page_asked(request)
        _member_required(user_id)
        page = selectors.member_post_page(viewer=_viewer(request), author_id=user_id, page=asked)
        return Response(self.OutputSerializer(page_as_asked(page, asked)).data)
