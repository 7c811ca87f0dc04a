"""Search API: ``GET /api/v1/search`` and ``GET /api/v1/members/lookup`` (for @mentions and the
recipients of a new dialog). The same filters, scope and permissions as the page (service.py)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from forum.api import PAGE_PARAMETER, page_asked
from forum.errors import ApplicationError, ErrorSerializer, ValidationFailed
from forum.search.base import KIND_MESSAGE, Hit, SearchScope, SearchUnavailable
from forum.search.service import (
    LOOKUP_LIMIT,
    QUERY_MAX_LENGTH,
    TABS,
    Found,
    SearchForm,
    member_id_named,
    members_lookup,
    query_from,
    run,
    tabs_for,
    viewer_scope,
)

TAGS = ["search"]


class Unavailable(ApplicationError):
    status = 503
    code = "search_unavailable"


def _invalid(form: SearchForm) -> ValidationFailed:
    fields = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
    return ValidationFailed(next(iter(fields.values()))[0], fields=fields)


class HitOutput(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text="`post`, `thread`, `member` or `message`.")
    id = serializers.IntegerField(help_text="The post's, thread's, member's or message's id.")
    score = serializers.FloatField(help_text="Relevance; comparable within one answer only.")
    url = serializers.CharField(source="document.url", help_text="Where it is shown on the site.")
    title = serializers.CharField(
        source="document.title", help_text="Plain text (a post: its thread's title)."
    )
    title_html = serializers.CharField(
        help_text="The title, escaped, the matched words in <mark> (none in a post's: its thread's title, "
        "not searched)."
    )
    snippet_html = serializers.CharField(
        help_text="Sanitised HTML: the content escaped, the matched words in <mark>, nothing else; a long "
        "text is cut around its matches, with an ellipsis (…) where the snippet starts after its start or "
        "ends before its end."
    )
    author_id = serializers.IntegerField(source="document.author_id", allow_null=True)
    author = serializers.SerializerMethodField(help_text="The author's username (a member: their own).")
    forum_id = serializers.IntegerField(source="document.forum_id", allow_null=True)
    thread_id = serializers.IntegerField(source="document.thread_id", allow_null=True)
    dialog_id = serializers.IntegerField(source="document.dialog_id", allow_null=True)
    created_at = serializers.DateTimeField(source="document.created_at", allow_null=True)
    has_attachments = serializers.BooleanField(source="document.has_attachments")

    def get_author(self, hit: Hit) -> str:
        authors: dict[int, str] = self.context.get("authors", {})
        return authors.get(hit.document.author_id or 0, "")


def _counts_asked(request: Request, scope: SearchScope) -> tuple[str, ...]:
    """The kinds ``?counts=`` asks to count (``thread,member``): each one the caller may search."""
    raw = request.query_params.get("counts", "")
    asked = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    allowed = tabs_for(scope)
    for kind in asked:
        if kind not in TABS:
            message = _("Count one of: %(kinds)s.") % {"kinds": ", ".join(TABS)}
            raise ValidationFailed(message, fields={"counts": [message]})
        if kind not in allowed:
            message = _("Sign in to search your dialogs.")
            raise ValidationFailed(message, fields={"counts": [message]})
    return asked


class SearchView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        total = serializers.IntegerField(help_text="Matches of this kind the caller may see.")
        total_is_lower_bound = serializers.BooleanField(
            help_text="True when counting stopped at `count_limit`: more than `total` match, and the "
            "pages reach the first `total` (narrow the search to see the others)."
        )
        page = serializers.IntegerField()
        pages = serializers.IntegerField(help_text="Pages the total makes (at least 1).")
        per_page = serializers.IntegerField()
        counts = serializers.DictField(
            child=serializers.IntegerField(),
            help_text="Matches per kind: the kind searched, and those asked for by `counts`.",
        )
        count_is_lower_bound = serializers.DictField(
            child=serializers.BooleanField(),
            help_text="Per kind of `counts`: true when more than that count match (counting stopped).",
        )
        count_limit = serializers.IntegerField(
            allow_null=True,
            help_text="Counts are exact up to this many and stop there; null when the backend counts "
            "every match.",
        )
        results = HitOutput(many=True)

    @extend_schema(
        tags=TAGS,
        summary="Search posts, threads, members or the caller's own dialog messages",
        description="Only what the caller may read is searched: forums they may read, public threads, "
        "posts not deleted, and messages of dialogs they take part in (a guest searches no messages). "
        "Words are matched in Russian and English with their forms («форумы» finds «форум», "
        "`threads` finds `thread`); members by name, forgiving typos and prefixes.",
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description=f"The words (at most {QUERY_MAX_LENGTH} characters); "
                '"quoted phrases", `or` and `-word` as in a web search.',
            ),
            OpenApiParameter("kind", str, enum=list(TABS), description="What to search (default `post`)."),
            OpenApiParameter("forum", int, description="A forum id: that forum and its subforums."),
            OpenApiParameter("author", str, description="A member's username."),
            OpenApiParameter("date_from", str, description="YYYY-MM-DD, inclusive."),
            OpenApiParameter("date_to", str, description="YYYY-MM-DD, inclusive."),
            OpenApiParameter("attachments", bool, description="Only what has attachments."),
            OpenApiParameter("sort", str, enum=["relevance", "date"]),
            OpenApiParameter(
                "counts",
                str,
                description="More kinds to count besides `kind`, separated by commas (`thread,member`): "
                "each costs about as much as the search's own count, so ask only for what is shown. "
                "`message` needs a signed-in caller.",
            ),
            PAGE_PARAMETER,
        ],
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A filter is not valid (named in `fields`)."),
            503: OpenApiResponse(ErrorSerializer, description="The search backend does not answer."),
        },
    )
    def get(self, request: Request) -> Response:
        # Read as every paged list of the API reads it: "2.0" or "" is a 400 naming ``page``.
        page = page_asked(request)
        scope, forums = viewer_scope(request.user)
        form = SearchForm(request.query_params, forums=forums)
        if not form.is_valid():
            raise _invalid(form)
        if (form.cleaned_data.get("kind") or "") == KIND_MESSAGE and scope.viewer_id is None:
            form.add_error("kind", _("Sign in to search your dialogs."))
            raise _invalid(form)
        count_kinds = _counts_asked(request, scope)
        author_id = None
        if form.cleaned_data.get("author"):
            author_id = member_id_named(form.cleaned_data["author"], scope)
            if author_id is None:
                form.add_error("author", _("No member has this name."))
                raise _invalid(form)
        query = dataclasses.replace(query_from(form, author_id=author_id, count_kinds=count_kinds), page=page)
        try:
            found: Found = run(query, scope, forums)
        except SearchUnavailable as error:
            raise Unavailable(
                _("Search is not available right now. Please try again in a minute.")
            ) from error
        result = found.result
        data = {
            "total": result.total,
            "total_is_lower_bound": result.total_is_lower_bound,
            "page": result.page,
            "pages": max(1, math.ceil(result.total / result.per_page)),
            "per_page": result.per_page,
            "counts": dict(result.counts),
            "count_is_lower_bound": {kind: kind in result.lower_bounds for kind in result.counts},
            "count_limit": result.count_limit,
            "results": HitOutput(found.hits, many=True, context={"authors": found.authors}).data,
        }
        return Response(data)


class MemberLookupView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        class MemberOutput(serializers.Serializer[Any]):
            id = serializers.IntegerField()
            username = serializers.CharField(source="document.title")
            name = serializers.CharField(source="document.body", help_text="The full name, or empty.")
            url = serializers.CharField(source="document.url")

        members = MemberOutput(many=True)

    @extend_schema(
        tags=TAGS,
        summary="Members whose name starts like, or nearly matches, what was typed",
        description=f"For @mention autocomplete and a new dialog's recipients: at most {LOOKUP_LIMIT}, "
        "best first. An empty `q` finds nobody.",
        parameters=[OpenApiParameter("q", str, description=f"At most {QUERY_MAX_LENGTH} characters.")],
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`q` is too long."),
            503: OpenApiResponse(ErrorSerializer, description="The search backend does not answer."),
        },
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("q", "")
        if len(text) > QUERY_MAX_LENGTH:
            message = ngettext(
                "At most %(count)d character.", "At most %(count)d characters.", QUERY_MAX_LENGTH
            ) % {"count": QUERY_MAX_LENGTH}
            raise ValidationFailed(message, fields={"q": [message]})
        user = request.user
        # Members are not in forums: no need to read the viewer's forums.
        scope = SearchScope(
            readable_forum_ids=frozenset(),
            viewer_id=int(user.pk) if user.is_authenticated else None,
            # Closed accounts are never offered, to staff either: nobody mentions or writes to them.
            is_staff=False,
        )
        try:
            hits = members_lookup(text.lstrip("@"), scope)
        except SearchUnavailable as error:
            raise Unavailable(
                _("Search is not available right now. Please try again in a minute.")
            ) from error
        return Response({"members": self.OutputSerializer.MemberOutput(hits, many=True).data})
