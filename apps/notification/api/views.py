"""API of the notification app: the caller's notifications, their choices, and what they watch.

Mounted under /api/v1/notifications/ by config.urls; members only. Someone else's notification answers
404, as one that does not exist; so does a thread or forum the caller may not see.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.notification import services
from forum.api import PAGE_PARAMETER, page_asked
from forum.errors import ErrorSerializer
from forum.paging import page_as_asked

TAGS = ["notifications"]
EMAIL_CHOICES = [channel.value for channel in services.EmailChannel]


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class NotificationItem(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="A registered kind (`GET /api/v1/notifications/kinds`).")
    text = serializers.CharField(help_text="In the caller's language, plain text.")
    url = serializers.CharField(help_text="Where it leads, on this site.")
    actor_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Who acted, newest first; empty when the forum did."
    )
    count = serializers.IntegerField(help_text="How many it groups: reactors, or messages since last read.")
    thread_id = serializers.IntegerField(allow_null=True)
    post_id = serializers.IntegerField(allow_null=True)
    is_unread = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="The last activity it tells of; the list's order.")
    read_at = serializers.DateTimeField(allow_null=True)


class UnreadOutput(serializers.Serializer[Any]):
    unread_count = serializers.IntegerField(help_text="Unread notifications shown on the site.")


class NotificationListView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        unread_count = serializers.IntegerField()
        kind = serializers.CharField(help_text="The filter applied; empty for every kind.")
        notifications = NotificationItem(many=True, source="items")

    @extend_schema(
        tags=TAGS,
        summary="The caller's notifications",
        description="Newest activity first, 20 a page. An unknown `kind` is ignored (every kind). "
        "Live: a `notification.new` frame on the caller's WebSocket says when to fetch again.",
        parameters=[PAGE_PARAMETER, OpenApiParameter("kind", str, description="Only this kind.")],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = services.notifications_page(
            user_id=_member_id(request), page=asked, kind=request.query_params.get("kind", "")
        )
        return Response(self.OutputSerializer(page_as_asked(page, asked)).data)


class UnreadCountView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, summary="The caller's unread count", responses={200: UnreadOutput})
    def get(self, request: Request) -> Response:
        return Response(
            UnreadOutput({"unread_count": services.unread_count(user_id=_member_id(request))}).data
        )


class MarkReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Mark a notification read",
        request=None,
        responses={200: UnreadOutput, 404: _error("No notification of the caller has this id.")},
    )
    def post(self, request: Request, notification_id: int) -> Response:
        unread = services.notification_mark_read(user_id=_member_id(request), notification_id=notification_id)
        return Response(UnreadOutput({"unread_count": unread}).data)


class MarkAllReadView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.CharField(required=False, allow_blank=True, help_text="Only this kind.")

    class OutputSerializer(serializers.Serializer[Any]):
        marked = serializers.IntegerField()
        unread_count = serializers.IntegerField()

    @extend_schema(
        tags=TAGS,
        summary="Mark all notifications read",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        member_id = _member_id(request)
        marked = services.notifications_mark_all_read(
            user_id=member_id, kind=given.validated_data.get("kind", "")
        )
        body = {"marked": marked, "unread_count": services.unread_count(user_id=member_id)}
        return Response(self.OutputSerializer(body).data)


class KindItem(serializers.Serializer[Any]):
    code = serializers.CharField()
    label = serializers.CharField(help_text="In the caller's language.")
    default_site = serializers.BooleanField()
    default_email = serializers.CharField(help_text="`immediate`, `digest` or `off`.")
    grouping = serializers.CharField(help_text="`none`, `actors` (counts who acted) or `events`.")
    app = serializers.CharField(help_text="The app that registered the kind.")


class KindListView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        kinds = KindItem(many=True)

    @extend_schema(
        tags=TAGS,
        summary="The kinds of notification",
        description="The registry: every kind this forum's apps registered, with its defaults.",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer({"kinds": services.notification_kinds()}).data)


class KindPreferenceItem(serializers.Serializer[Any]):
    kind = serializers.CharField()
    label = serializers.CharField()
    site = serializers.BooleanField(help_text="Shown on the site (the bell, the page, live).")
    email = serializers.ChoiceField(choices=EMAIL_CHOICES, help_text="`immediate`, `digest` or `off`.")
    default_site = serializers.BooleanField()
    default_email = serializers.CharField(help_text="`immediate`, `digest` or `off`.")


class PreferencesOutput(serializers.Serializer[Any]):
    auto_watch = serializers.BooleanField(help_text="Watch the threads the caller starts or replies to.")
    email_enabled = serializers.BooleanField(help_text="Off: no email at all.")
    language = serializers.CharField(help_text="Language of emails; empty for the forum's default.")
    kinds = KindPreferenceItem(many=True)


class PreferencesView(APIView):
    permission_classes = [IsAuthenticated]

    class KindChoiceSerializer(serializers.Serializer[Any]):
        site = serializers.BooleanField(required=False)
        email = serializers.ChoiceField(choices=EMAIL_CHOICES, required=False)

    class InputSerializer(serializers.Serializer[Any]):
        auto_watch = serializers.BooleanField(required=False)
        email_enabled = serializers.BooleanField(required=False)
        language = serializers.CharField(required=False, allow_blank=True, max_length=8)
        kinds = serializers.DictField(
            child=serializers.DictField(),
            required=False,
            help_text='By kind: `{"thread.reply": {"site": true, "email": "digest"}}`; either key may be '
            "left out. An unknown kind refuses the whole change (`fields` names it).",
        )

    @extend_schema(
        tags=TAGS, summary="The caller's notification settings", responses={200: PreferencesOutput}
    )
    def get(self, request: Request) -> Response:
        return Response(PreferencesOutput(services.preferences_get(user_id=_member_id(request))).data)

    @extend_schema(
        tags=TAGS,
        summary="Change the caller's notification settings",
        description="Only what is sent changes.",
        request=InputSerializer,
        responses={200: PreferencesOutput},
    )
    def patch(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        kinds = given.validated_data.get("kinds")
        if kinds is not None:
            for code, choice in kinds.items():
                checked = self.KindChoiceSerializer(data=choice)
                if not checked.is_valid():
                    raise serializers.ValidationError({"kinds": {code: checked.errors}})
                kinds[code] = checked.validated_data
        preferences = services.preferences_update(
            user_id=_member_id(request),
            auto_watch=given.validated_data.get("auto_watch"),
            email_enabled=given.validated_data.get("email_enabled"),
            language=given.validated_data.get("language"),
            kinds=kinds,
        )
        return Response(PreferencesOutput(preferences).data)


class WatchItem(serializers.Serializer[Any]):
    target_id = serializers.IntegerField()
    title = serializers.CharField()


class WatchingView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        threads = WatchItem(many=True)
        forums = WatchItem(many=True)

    @extend_schema(
        tags=TAGS,
        summary="What the caller watches",
        description="Threads (their replies are notified) and forums (their new threads), most recent first; "
        "only those the caller may still see.",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(services.watch_list(user_id=_member_id(request))).data)


class WatchStateOutput(serializers.Serializer[Any]):
    watching = serializers.BooleanField()


def _watch_view(target: str, noun: str) -> type[APIView]:
    class View(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            tags=TAGS,
            summary=f"Whether the caller watches a {noun}",
            responses={200: WatchStateOutput, 404: _error(f"No {noun} the caller may see has this id.")},
        )
        def get(self, request: Request, target_id: int) -> Response:
            member_id = _member_id(request)
            services.watch_target_check(user_id=member_id, target=target, target_id=target_id)
            watching = target_id in services.watched_among(
                user_id=member_id, target=target, target_ids=[target_id]
            )
            return Response(WatchStateOutput({"watching": watching}).data)

        @extend_schema(
            tags=TAGS,
            summary=f"Watch a {noun}",
            request=None,
            responses={200: WatchStateOutput, 404: _error(f"No {noun} the caller may see has this id.")},
        )
        def put(self, request: Request, target_id: int) -> Response:
            services.watch_set(user_id=_member_id(request), target=target, target_id=target_id)
            return Response(WatchStateOutput({"watching": True}).data)

        @extend_schema(
            tags=TAGS,
            summary=f"Stop watching a {noun}",
            request=None,
            responses={200: WatchStateOutput, 404: _error(f"No {noun} the caller may see has this id.")},
        )
        def delete(self, request: Request, target_id: int) -> Response:
            services.watch_unset(user_id=_member_id(request), target=target, target_id=target_id)
            return Response(WatchStateOutput({"watching": False}).data)

    View.__name__ = View.__qualname__ = f"Watch{target.capitalize()}View"
    return View


WatchThreadView = _watch_view("thread", "thread")
WatchForumView = _watch_view("forum", "forum")
