"""API of the thread app: forums, threads, posts, and the moderators' actions and queue.

Reads answer what the caller may see (a thread awaiting moderation is its author's and the moderators'
only; anyone else gets 404, as for a thread that does not exist). Writes go through the services,
whose refusals come back in the one error shape (403, 404, 409, 429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.thread import selectors, services
from apps.thread.models import BODY_MAX_LENGTH, REASON_MAX_LENGTH, TITLE_MAX_LENGTH
from forum.api import PAGE_PARAMETER, AttachmentOutput, page_asked
from forum.errors import ErrorSerializer, NotFound
from forum.paging import page_as_asked

TAGS = ["threads"]


def _viewer(request: Request) -> selectors.Viewer:
    user_id = request.user.pk if request.user and request.user.is_authenticated else None
    return selectors.viewer_for(user_id=None if user_id is None else int(user_id))


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# --- Parts of the answers -----------------------------------------------------------------------------


class ForumItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=["category", "forum"], help_text="Categories hold no threads.")
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    depth = serializers.IntegerField(help_text="0 for a category, 1 for its forums, 2 for subforums...")
    position = serializers.IntegerField()
    thread_count = serializers.IntegerField(help_text="Threads in this forum itself.")
    post_count = serializers.IntegerField(help_text="Posts in this forum itself.")
    total_thread_count = serializers.IntegerField(help_text="With the subforums the caller may see.")
    total_post_count = serializers.IntegerField(help_text="With the subforums the caller may see.")
    is_unread = serializers.BooleanField(
        help_text="The forum or a subforum holds one of its recently active threads (the last "
        "THREAD_UNREAD_DAYS days) that the caller has not read to its end (false for guests)."
    )
    last_post_id = serializers.IntegerField(
        allow_null=True, help_text="The latest post here or in a subforum."
    )
    last_post_at = serializers.DateTimeField(allow_null=True)
    last_thread_id = serializers.IntegerField(allow_null=True)
    last_thread_title = serializers.CharField()
    last_poster = serializers.CharField(help_text="Username; empty when there is no post.")


class ThreadItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    forum_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    author = serializers.CharField(help_text="Username.")
    title = serializers.CharField()
    slug = serializers.CharField()
    state = serializers.CharField(
        help_text="`approved`, `pending` or `rejected`; `pending` and `rejected` threads are seen by their "
        "author and moderators only."
    )
    rejection_reason = serializers.CharField()
    closed = serializers.BooleanField()
    pinned = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_post_at = serializers.DateTimeField()
    last_post_id = serializers.IntegerField(allow_null=True)
    last_poster = serializers.CharField()
    reply_count = serializers.IntegerField()
    is_new = serializers.BooleanField(help_text="Never opened by the caller (false for guests).")
    is_unread = serializers.BooleanField(help_text="Posts after the last one the caller read.")


class ThreadPage(serializers.Serializer[Any]):
    page = serializers.IntegerField(source="number")
    pages = serializers.IntegerField()
    total = serializers.IntegerField()
    threads = ThreadItem(many=True, source="items")


class AttachmentItem(AttachmentOutput):
    url_name = "thread-attachment"
    thumbnail_url_name = "thread-attachment-thumbnail"

    post_id = serializers.IntegerField(allow_null=True, help_text="Empty until a post takes the upload.")
    url = serializers.SerializerMethodField(help_text="Same origin; answers 404 to who may not see the post.")


class PostItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    held = serializers.BooleanField(help_text="Awaiting a moderator's approval; only in `held`.")
    thread_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    author = serializers.CharField(help_text="Username.")
    position = serializers.IntegerField(help_text="1 for the opening post; never reused.")
    body = serializers.CharField(help_text="The source as written.")
    body_html = serializers.CharField(help_text="Rendered, safe to insert.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    is_unread = serializers.BooleanField()
    attachments = AttachmentItem(many=True)
    reaction_counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Reactions per kind; kinds without any are left out."
    )
    my_reaction = serializers.CharField(allow_null=True, help_text="The caller's kind; null if none.")
    bookmarked = serializers.BooleanField(
        allow_null=True,
        help_text="Whether the caller bookmarked it (`PUT /api/v1/posts/{id}/bookmark`); null for guests and "
        "in a thread awaiting moderation.",
    )


class PostInThreadItem(PostItem):
    """A post with its thread, where the thread is not otherwise in the answer."""

    is_unread = serializers.BooleanField(help_text="Always false here: read marks belong to thread pages.")
    thread_title = serializers.CharField()
    forum_id = serializers.IntegerField()


class ThreadRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    forum_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    state = serializers.CharField(help_text="`approved`, `pending` (awaiting moderation) or `rejected`.")
    closed = serializers.BooleanField()
    pinned = serializers.BooleanField()
    first_post_id = serializers.IntegerField(allow_null=True)


class PostRefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    thread_id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    position = serializers.IntegerField(help_text="Of a reply awaiting approval: not its own until approved.")
    held = serializers.BooleanField(
        help_text="Awaiting a moderator's approval (the author's posts are premoderated): only the author "
        "and moderators see it until then."
    )


def _body() -> serializers.CharField:
    return serializers.CharField(max_length=BODY_MAX_LENGTH, trim_whitespace=True)


def _attachment_ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=100,
        help_text="Ids of the caller's uploads (`POST /api/v1/attachments`) not yet on a post; at most "
        "`post.attachments_max`.",
    )


# --- Reads --------------------------------------------------------------------------------------------


class ForumListView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        forums = ForumItem(many=True, help_text="In tree order: a parent before its children.")

    @extend_schema(
        tags=TAGS,
        summary="The forum tree",
        description="Every category and forum the caller may see, with counters and the last post.",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        forums = selectors.forum_index(viewer=_viewer(request))
        return Response(self.OutputSerializer({"forums": forums}).data)


class ForumThreadsView(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
        body = _body()
        attachment_ids = _attachment_ids()

    @extend_schema(
        tags=TAGS,
        summary="A forum's threads",
        description="Pinned first, then by last activity; threads awaiting moderation only for their author "
        "and moderators.",
        parameters=[PAGE_PARAMETER],
        responses={200: ThreadPage},
    )
    def get(self, request: Request, forum_id: int) -> Response:
        viewer = _viewer(request)
        if forum_id not in selectors.forums_visible(viewer=viewer):
            raise NotFound(_("There is no such forum."))
        asked = page_asked(request)
        page = selectors.thread_page(viewer=viewer, forum_id=forum_id, page=asked)
        return Response(ThreadPage(page_as_asked(page, asked)).data)

    @extend_schema(
        tags=TAGS,
        summary="Start a thread",
        description="Uses one of the day's `thread.create_per_day` (429 with `Retry-After` and "
        "`X-Quota-Resets-At` when used up). Without `thread.skip_premoderation` the thread is `pending` "
        "until a moderator approves it.",
        request=InputSerializer,
        responses={
            201: ThreadRefOutput,
            409: _error("Not a forum that takes threads."),
            429: _error("Quota used up."),
        },
    )
    def post(self, request: Request, forum_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        thread = services.thread_create(
            author_id=_member_id(request), forum_id=forum_id, **given.validated_data
        )
        return Response(ThreadRefOutput(thread).data, status=status.HTTP_201_CREATED)


def _visible_thread(viewer: selectors.Viewer, thread_id: int) -> selectors.ThreadRow:
    thread = selectors.thread_row(viewer=viewer, thread_id=thread_id)
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        raise NotFound(_("There is no such thread."))
    return thread


class ThreadDetailView(APIView):
    @extend_schema(tags=TAGS, summary="A thread", responses={200: ThreadItem})
    def get(self, request: Request, thread_id: int) -> Response:
        return Response(ThreadItem(_visible_thread(_viewer(request), thread_id)).data)


class ThreadPostsView(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        body = _body()
        attachment_ids = _attachment_ids()

    class OutputSerializer(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        posts = PostItem(many=True, source="items")
        held = PostItem(
            many=True,
            help_text="On the last page: the replies awaiting approval the caller may see (their own; "
            "everyone's for moderators), oldest first. Not counted in `total`.",
        )

    @extend_schema(
        tags=TAGS,
        summary="A thread's posts",
        description="In order, a page at a time; reading a page marks it read for the caller. Replies "
        "awaiting approval come apart, in `held`.",
        parameters=[PAGE_PARAMETER],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, thread_id: int) -> Response:
        asked = page_asked(request)
        viewer = _viewer(request)
        thread = _visible_thread(viewer, thread_id)
        read_position = None if viewer.user_id is None else thread.read_position or 0
        posts = selectors.post_page(
            thread=thread, page=asked, read_position=read_position, viewer_id=viewer.user_id
        )
        # Past the end: nothing is shown, so nothing is marked read.
        posts = page_as_asked(posts, asked)
        if viewer.user_id is not None and posts.items:
            services.thread_mark_read(
                user_id=viewer.user_id, thread_id=thread_id, position=posts.items[-1].position
            )
        last = posts.number == posts.pages
        held = selectors.held_posts(viewer=viewer, thread=thread) if last else ()
        answer = {"number": posts.number, "pages": posts.pages, "total": posts.total, "items": posts.items}
        return Response(self.OutputSerializer({**answer, "held": held}).data)

    @extend_schema(
        tags=TAGS,
        summary="Reply",
        description="A closed thread refuses (`thread_closed`, moderators excepted); a thread awaiting "
        "moderation takes no replies (`thread_pending`). Uses one of the day's `post.create_per_day`.",
        request=InputSerializer,
        responses={
            201: PostRefOutput,
            409: _error("The thread awaits moderation."),
            429: _error("Quota used up."),
        },
    )
    def post(self, request: Request, thread_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        post = services.post_create(
            author_id=_member_id(request), thread_id=thread_id, **given.validated_data
        )
        return Response(PostRefOutput(post).data, status=status.HTTP_201_CREATED)


class PostView(APIView):
    # Anyone may read a post they may see; editing and deleting are for members (and the services).
    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField(
            max_length=BODY_MAX_LENGTH,
            trim_whitespace=True,
            required=False,
            help_text="The new text; left out, the text stays.",
        )
        attachment_ids = _attachment_ids()
        remove_attachment_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
            required=False,
            max_length=100,
            help_text="Ids of the post's attachments to delete, files included.",
        )

    @extend_schema(
        tags=TAGS,
        summary="A post",
        description="One post, as its thread page shows it to the caller (their reaction and bookmark), "
        "with its thread's title. 404 for a post that is deleted, or in a thread the caller may not see "
        "(awaiting moderation and not theirs, or in a forum they may not read), or a reply awaiting "
        "approval that is not theirs (moderators see it), as for one that does not exist.",
        responses={200: PostInThreadItem},
    )
    def get(self, request: Request, post_id: int) -> Response:
        viewer = _viewer(request)
        location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
        if location is None or location.hidden_from(viewer):
            raise NotFound(_("There is no such post."))
        try:
            thread = _visible_thread(viewer, location.thread_id)
        except NotFound:
            raise NotFound(_("There is no such post.")) from None
        if location.held:  # awaiting approval: its author's and the moderators' only
            held = selectors.held_posts(viewer=viewer, thread=thread)
            post = next((row for row in held if row.id == post_id), None)
        else:
            post = selectors.post_row(thread=thread, post_id=post_id, viewer_id=viewer.user_id)
        if post is None:
            raise NotFound(_("There is no such post."))
        return Response(PostInThreadItem(selectors.post_in_thread(post=post, thread=thread)).data)

    @extend_schema(
        tags=TAGS,
        summary="Edit a post",
        description="Its author within the edit window (`edit_window_over` after), moderators at any time; "
        "the text before is kept, with the attachments added and removed. `attachment_ids` attach the "
        "caller's uploads (`POST /api/v1/attachments`) not yet on a post; the post then holds at most "
        "`post.attachments_max` (`too_many_attachments`). An id among `attachment_ids` that is not such "
        "an upload, or among `remove_attachment_ids` that is not on this post, refuses the whole edit "
        "(404 `attachment_unknown`).",
        request=InputSerializer,
        responses={
            200: PostRefOutput,
            400: _error("Invalid text, or too many attachments."),
            403: _error("Not the caller's post, or the edit window is over."),
            404: _error("No such post, or an attachment id that is not the caller's or not on the post."),
        },
    )
    def patch(self, request: Request, post_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        post = services.post_edit(editor_id=_member_id(request), post_id=post_id, **given.validated_data)
        return Response(PostRefOutput(post).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a reply",
        description="As for editing; the opening post goes only with its thread.",
        responses={204: None},
    )
    def delete(self, request: Request, post_id: int) -> Response:
        services.post_delete(user_id=_member_id(request), post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentUploadView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(allow_empty_file=True, help_text="The type is decided from the content.")

    @extend_schema(
        tags=TAGS,
        summary="Upload an attachment",
        description="Stores a file for a post being written: pass its id in `attachment_ids` when the post "
        "is created. Until then only the caller can download it. Types and size follow the upload policy "
        "(`file_type_not_allowed`, `file_too_large` 413, `image_damaged`...).",
        request={"multipart/form-data": InputSerializer},
        responses={
            201: AttachmentItem,
            403: _error("Attachments not allowed to the caller."),
            409: _error("Too many uploads waiting for a post."),
            413: _error("The file is too large."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        attachment = services.attachment_upload(
            uploader_id=_member_id(request), file=given.validated_data["file"]
        )
        return Response(AttachmentItem(attachment).data, status=status.HTTP_201_CREATED)


class PostReactionView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.CharField(max_length=30, help_text="One of the kinds of THREAD_REACTION_KINDS.")

    class OutputSerializer(serializers.Serializer[Any]):
        post_id = serializers.IntegerField()
        kind = serializers.CharField(allow_null=True, help_text="The caller's reaction now; null if none.")
        counts = serializers.DictField(child=serializers.IntegerField(), help_text="Reactions per kind.")

    @extend_schema(
        tags=TAGS,
        summary="React to a post",
        description="One reaction per member and post; a new kind replaces the old. Not to one's own post "
        "(409 `own_post`); 404 for a post the caller may not see.",
        request=InputSerializer,
        responses={200: OutputSerializer, 409: _error("The caller's own post.")},
    )
    def put(self, request: Request, post_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        reaction = services.reaction_set(user_id=_member_id(request), post_id=post_id, **given.validated_data)
        return Response(self.OutputSerializer(reaction).data)

    @extend_schema(tags=TAGS, summary="Take a reaction back", responses={200: OutputSerializer})
    def delete(self, request: Request, post_id: int) -> Response:
        reaction = services.reaction_clear(user_id=_member_id(request), post_id=post_id)
        return Response(self.OutputSerializer(reaction).data)


# --- Moderation ---------------------------------------------------------------------------------------


class _ModerationView(APIView):
    permission_classes = [IsAuthenticated]


def _moderation_schema(summary: str, request: Any = None) -> Any:
    return extend_schema(
        tags=["moderation"],
        summary=summary,
        description="For moderators (`thread.moderate`).",
        request=request,
        responses={200: ThreadRefOutput},
    )


class ThreadCloseView(_ModerationView):
    @_moderation_schema("Close a thread")
    def post(self, request: Request, thread_id: int) -> Response:
        return Response(
            ThreadRefOutput(services.thread_close(moderator_id=_member_id(request), thread_id=thread_id)).data
        )


class ThreadReopenView(_ModerationView):
    @_moderation_schema("Reopen a thread")
    def post(self, request: Request, thread_id: int) -> Response:
        return Response(
            ThreadRefOutput(
                services.thread_reopen(moderator_id=_member_id(request), thread_id=thread_id)
            ).data
        )


class ThreadPinView(_ModerationView):
    @_moderation_schema("Pin a thread")
    def post(self, request: Request, thread_id: int) -> Response:
        return Response(
            ThreadRefOutput(services.thread_pin(moderator_id=_member_id(request), thread_id=thread_id)).data
        )


class ThreadUnpinView(_ModerationView):
    @_moderation_schema("Unpin a thread")
    def post(self, request: Request, thread_id: int) -> Response:
        return Response(
            ThreadRefOutput(services.thread_unpin(moderator_id=_member_id(request), thread_id=thread_id)).data
        )


class ThreadApproveView(_ModerationView):
    @_moderation_schema("Approve a thread awaiting moderation")
    def post(self, request: Request, thread_id: int) -> Response:
        return Response(
            ThreadRefOutput(
                services.thread_approve(moderator_id=_member_id(request), thread_id=thread_id)
            ).data
        )


class ThreadRejectView(_ModerationView):
    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text="Shown to the author.")

    @_moderation_schema("Reject a thread awaiting moderation", request=InputSerializer)
    def post(self, request: Request, thread_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        thread = services.thread_reject(
            moderator_id=_member_id(request), thread_id=thread_id, **given.validated_data
        )
        return Response(ThreadRefOutput(thread).data)


class ThreadMoveView(_ModerationView):
    class InputSerializer(serializers.Serializer[Any]):
        forum_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)

    @_moderation_schema("Move a thread to another forum", request=InputSerializer)
    def post(self, request: Request, thread_id: int) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        thread = services.thread_move(
            moderator_id=_member_id(request), thread_id=thread_id, **given.validated_data
        )
        return Response(ThreadRefOutput(thread).data)


class ThreadDeleteView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["moderation"],
        summary="Delete a thread",
        description="For moderators (`thread.moderate`).",
        responses={204: None},
    )
    def delete(self, request: Request, thread_id: int) -> Response:
        services.thread_delete(moderator_id=_member_id(request), thread_id=thread_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModerationQueueView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["moderation"],
        summary="Threads awaiting moderation",
        description="Oldest first. For moderators (`thread.moderate`).",
        parameters=[PAGE_PARAMETER],
        responses={200: ThreadPage},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        viewer = _viewer(request)
        services.moderation_require(user_id=_member_id(request))
        page = selectors.moderation_queue(viewer=viewer, page=asked)
        return Response(ThreadPage(page_as_asked(page, asked)).data)
