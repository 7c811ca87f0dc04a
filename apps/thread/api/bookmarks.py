"""API of the member's bookmarks: keep a post (with a note), let it go, list what is kept.

Only the caller's own bookmarks are ever read or written; a post the caller may not see answers 404,
as one that does not exist. The list leaves out bookmarks of posts the caller can no longer see.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.thread import selectors, services
from apps.thread.api.views import _error, _member_id, _viewer
from apps.thread.models import BOOKMARK_NOTE_MAX_LENGTH
from forum.api import PAGE_PARAMETER, page_asked
from forum.paging import page_as_asked

TAGS = ["bookmarks"]


class BookmarkItem(serializers.Serializer[Any]):
    post_id = serializers.IntegerField()
    thread_id = serializers.IntegerField()
    thread_title = serializers.CharField()
    author_id = serializers.IntegerField(help_text="The post's author.")
    author = serializers.CharField(help_text="The post author's username.")
    position = serializers.IntegerField(help_text="The post's place in its thread.")
    excerpt = serializers.CharField(help_text="The start of the post's source, on one line.")
    post_created_at = serializers.DateTimeField()
    note = serializers.CharField(help_text="The caller's note; empty if none.")
    created_at = serializers.DateTimeField(help_text="When the caller bookmarked it.")
    url = serializers.SerializerMethodField(help_text="The post on its thread page.")

    def get_url(self, bookmark: Any) -> str:
        return reverse("thread-post", args=[bookmark.post_id])


class BookmarkListView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        bookmarks = BookmarkItem(many=True, source="items")

    @extend_schema(
        tags=TAGS,
        summary="My bookmarks",
        description="Newest first, a page at a time. Bookmarks of posts the caller can no longer see "
        "(deleted, or in a thread deleted, awaiting moderation or moved to a forum the caller may not read) "
        "are left out, not deleted: they come back if the post does.",
        parameters=[PAGE_PARAMETER],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = selectors.bookmark_page(viewer=_viewer(request), page=asked)
        return Response(self.OutputSerializer(page_as_asked(page, asked)).data)


class PostBookmarkView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(
            max_length=BOOKMARK_NOTE_MAX_LENGTH,
            required=False,
            allow_blank=True,
            help_text="A note for oneself; left out, the note stays as it is (empty on a new bookmark).",
        )

    class OutputSerializer(serializers.Serializer[Any]):
        post_id = serializers.IntegerField()
        note = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        tags=TAGS,
        summary="Bookmark a post",
        description="One bookmark per member and post: bookmarking again changes the note. 404 for a post "
        "the caller may not see; 409 `thread_pending` in a thread awaiting moderation.",
        request=InputSerializer,
        responses={200: OutputSerializer, 409: _error("The thread awaits moderation.")},
    )
    def put(self, request: Request, post_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        bookmark = services.bookmark_set(
            user_id=_member_id(request), post_id=post_id, note=given.validated_data.get("note")
        )
        return Response(self.OutputSerializer(bookmark).data)

    @extend_schema(
        tags=TAGS,
        summary="Remove a bookmark",
        description="Nothing happens when the post is not bookmarked; 404 for a post the caller may not see.",
        responses={204: None},
    )
    def delete(self, request: Request, post_id: int) -> Response:
        services.bookmark_remove(user_id=_member_id(request), post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
