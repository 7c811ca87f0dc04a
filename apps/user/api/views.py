"""Public API of the user app: members' profiles, the caller's own profile and avatar, and follows.

Mounted under /api/v1/ by config.urls. Refusals of the services come back in the one error shape
(400 with the fields, 404 for an unknown member, 413 for a file too large).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.user import services
from forum.errors import ErrorSerializer

TAGS = ["members"]


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class BadgeOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the caller's language.")


class CountersOutput(serializers.Serializer[Any]):
    post_count = serializers.IntegerField()
    reaction_score = serializers.IntegerField()


class MemberOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="user_id")
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    bio_html = serializers.CharField(help_text="Sanitized HTML, rendered from Markdown when saved.")
    signature_html = serializers.CharField(help_text="Sanitized HTML, rendered from Markdown when saved.")
    website = serializers.CharField(help_text="An http(s) address, or empty.")
    location = serializers.CharField()
    avatar_url = serializers.CharField(help_text="Empty when the member has no avatar.")
    badges = BadgeOutput(many=True, help_text="The statuses the member holds now.")
    profile_url = serializers.CharField()
    counters = CountersOutput(allow_null=True, help_text="Null while the counters are not available.")


class ProfileSourceOutput(serializers.Serializer[Any]):
    bio = serializers.CharField(help_text="Markdown, as written.")
    signature = serializers.CharField(help_text="Markdown, as written.")
    website = serializers.CharField()
    location = serializers.CharField()
    avatar_url = serializers.CharField()


class MemberView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=TAGS,
        summary="A member's public profile",
        responses={200: MemberOutput, 404: _error("No member has this id.")},
    )
    def get(self, request: Request, user_id: int) -> Response:
        return Response(MemberOutput(services.member_profile(user_id=user_id)).data)


class MyProfileView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        # Lengths are checked by the services, which answer with the field in `fields`.
        bio = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
        signature = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
        website = serializers.CharField(
            required=False, allow_blank=True, help_text="http:// or https:// only; empty removes it."
        )
        location = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS, summary="The caller's profile, as written", responses={200: ProfileSourceOutput}
    )
    def get(self, request: Request) -> Response:
        return Response(ProfileSourceOutput(services.profile_source_get(user_id=_member_id(request))).data)

    @extend_schema(
        tags=TAGS,
        summary="Change the caller's profile",
        description="Only the fields sent change. `bio` and `signature` are Markdown, as in posts; "
        "`website` must be an http(s) address (`invalid_website`); texts too long answer `too_long`.",
        request=InputSerializer,
        responses={200: ProfileSourceOutput, 400: _error("A field is refused; `fields` says which.")},
    )
    def patch(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        source = services.profile_update(user_id=_member_id(request), **given.validated_data)
        return Response(ProfileSourceOutput(source).data)


class MyAvatarView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        avatar = serializers.FileField(
            allow_empty_file=True, help_text="JPEG, PNG, GIF or WebP, at most 2 MB; the content decides."
        )

    class OutputSerializer(serializers.Serializer[Any]):
        avatar_url = serializers.CharField()

    @extend_schema(
        tags=TAGS,
        summary="Set the caller's avatar",
        description="Replaces the avatar; what is shown is a WebP thumbnail of it. Anything but an image "
        "answers `file_type_not_allowed`; a damaged image `image_damaged`.",
        request={"multipart/form-data": InputSerializer},
        responses={
            200: OutputSerializer,
            400: _error("Not an image, or a damaged one."),
            413: _error("The file is larger than 2 MB."),
        },
    )
    def put(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        file = given.validated_data["avatar"]
        url = services.avatar_set(user_id=_member_id(request), file=file, filename=file.name or "")
        return Response(self.OutputSerializer({"avatar_url": url}).data)

    @extend_schema(tags=TAGS, summary="Remove the caller's avatar", responses={204: None})
    def delete(self, request: Request) -> Response:
        services.avatar_remove(user_id=_member_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        following = serializers.BooleanField(help_text="Whether the caller follows the member now.")

    @extend_schema(
        tags=TAGS,
        summary="Follow a member",
        description="Idempotent: following a member one follows already changes nothing. A member who "
        "accepts dialogs only from the people they follow lets the members they follow write to them.",
        request=None,
        responses={
            200: OutputSerializer,
            400: _error("The caller's own id (`follow_self`)."),
            404: _error("No member has this id."),
        },
    )
    def put(self, request: Request, user_id: int) -> Response:
        services.follow(user_id=_member_id(request), target_id=user_id)
        return Response(self.OutputSerializer({"following": True}).data)

    @extend_schema(
        tags=TAGS,
        summary="Stop following a member",
        description="Idempotent: answers the same whether or not the caller followed the member.",
        responses={200: OutputSerializer},
    )
    def delete(self, request: Request, user_id: int) -> Response:
        services.unfollow(user_id=_member_id(request), target_id=user_id)
        return Response(self.OutputSerializer({"following": False}).data)
