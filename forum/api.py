"""Kernel API: /api/v1/meta and /api/v1/language, the schema class that documents the error shape, and
the ``?page=`` every paged list reads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import get_language, get_language_info
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from forum.context_processors import forum_name
from forum.errors import ErrorSerializer, status_text
from forum.idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER, applies_to
from forum.paging import PAGE_NUMBER_MAX, api_page_number

__all__ = [
    "PAGE_PARAMETER",
    "AttachmentOutput",
    "ForumAutoSchema",
    "LanguageInfoSerializer",
    "LanguageView",
    "MetaView",
    "page_asked",
]

# The ``?page=`` of every paged list of the API (read with ``page_asked``), as the schema shows it.
PAGE_PARAMETER = OpenApiParameter(
    "page",
    {"type": "integer", "minimum": 1, "maximum": PAGE_NUMBER_MAX},
    description="1 for the first page (the default). Anything but a whole number from 1 to "
    f"{PAGE_NUMBER_MAX:,} is refused (400, `fields.page`); a page past the last is empty and still "
    "tells `total`.",
)


def page_asked(request: Request) -> int:
    """The ``?page=`` of an API call: 1 when missing; a 400 naming ``page`` when it is no page number.
    Past the end, the reader moves it into range and ``forum.paging.page_as_asked`` empties it."""
    return api_page_number(request.query_params.get("page"))


class AttachmentOutput(serializers.Serializer[Any]):
    """An uploaded file as every app's API shows it (posts, dialog messages, tickets): each app
    subclasses it with the names of its two download routes (which check the reader) and its own
    ``url`` help text, and adds the id of what holds the file where it has one."""

    url_name = ""
    thumbnail_url_name = ""

    id = serializers.IntegerField()
    original_name = serializers.CharField(help_text="Cleaned; its extension is the stored type's.")
    content_type = serializers.CharField(help_text="Decided from the content, not the name.")
    size = serializers.IntegerField(help_text="Bytes, as stored (photos lose their metadata).")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="Same origin; 404 to anyone who may not see it.")
    thumbnail_url = serializers.SerializerMethodField(help_text="WebP, for images only.")

    def get_url(self, attachment: Any) -> str:
        return reverse(self.url_name, args=[attachment.id, attachment.original_name])

    def get_thumbnail_url(self, attachment: Any) -> str | None:
        if not attachment.has_thumbnail:
            return None
        return reverse(self.thumbnail_url_name, args=[attachment.id, attachment.original_name])


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_VIEW_SUFFIXES = ("APIView", "ApiView", "API", "Api", "View")


class ForumAutoSchema(AutoSchema):
    """The project's DEFAULT_SCHEMA_CLASS: every operation documents the errors it can answer.

    An explicit ``extend_schema(responses=...)`` entry for a status wins; otherwise these get the
    ``Error`` component: 400 for input (a body or query parameters), 401/403 unless anyone may call
    it, 404 for paths with parameters and 429 for throttled views. Nested ``InputSerializer`` and
    ``OutputSerializer`` classes (one view per operation) are named after their view, so that two
    views' ``OutputSerializer`` do not collide as one component. Writes that only a signed-in caller
    may make document the ``Idempotency-Key`` header (forum/idempotency.py) and its 409.
    """

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        if self._takes_idempotency_key():
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    type=str,
                    location=OpenApiParameter.HEADER,
                    required=False,
                    description="Makes a retry safe: 1 to 255 printable ASCII characters, new for each "
                    "intended write. A retry with the same key and the same request gets the first "
                    f"(2xx) answer again, with `{REPLAYED_HEADER}: true`, and nothing is written twice; "
                    "the same key with another request answers 409 `idempotency_key_reused`. Kept "
                    f"{settings.IDEMPOTENCY_KEY_TTL_HOURS:g} hours; a refused or failed call keeps no key.",
                )
            )
        return parameters

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(
            path, path_regex, path_prefix, method, registry
        )
        if operation is None:
            return None
        error_schema = self.resolve_serializer(ErrorSerializer, "response").ref
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for status in self._error_statuses(operation):
            responses.setdefault(
                str(status),
                {
                    "description": status_text(status)[1],
                    "content": {"application/json": {"schema": error_schema}},
                },
            )
        return operation

    def get_serializer_name(self, serializer: serializers.BaseSerializer[Any], direction: str) -> str:
        outer, _dot, inner = type(serializer).__qualname__.rpartition(".")
        if not outer or "<locals>" in outer:
            return type(serializer).__name__
        view_name = outer.rpartition(".")[2]
        for suffix in _VIEW_SUFFIXES:
            if view_name.endswith(suffix) and view_name != suffix:
                view_name = view_name[: -len(suffix)]
                break
        return view_name + inner.removesuffix("Serializer")

    def _error_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses = []
        has_query = any(parameter.get("in") == "query" for parameter in operation.get("parameters", []))
        if self.method in _BODY_METHODS or has_query:
            statuses.append(400)
        if self._may_refuse():
            if self._answers_unauthenticated_with_401():
                statuses.append(401)
            statuses.append(403)
        if "{" in self.path:
            statuses.append(404)
        if self._takes_idempotency_key():
            statuses.append(409)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _takes_idempotency_key(self) -> bool:
        # Anonymous calls ignore the header: only writes that need a signed-in caller document it.
        return applies_to(self.method, self.path) and self._may_refuse()

    def _may_refuse(self) -> bool:
        kinds = {type(permission) for permission in self.view.get_permissions()}
        if kinds <= {AllowAny}:
            return False
        return not (self.method in _SAFE_METHODS and kinds <= {AllowAny, IsAuthenticatedOrReadOnly})

    def _answers_unauthenticated_with_401(self) -> bool:
        # DRF answers 401 only when the first authenticator names a WWW-Authenticate scheme: the
        # project's first, the bearer token, does; a view that lists only the session (whose cookie
        # names none) refuses the anonymous with 403 instead.
        authenticators = self.view.get_authenticators()
        request = getattr(self.view, "request", None)
        return bool(authenticators and request is not None and authenticators[0].authenticate_header(request))


def _language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class LanguageInfoSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Language code for `Accept-Language` or `POST /language`.")
    name = serializers.CharField(help_text="The language's name in English.")
    name_local = serializers.CharField(help_text="The language's name in itself.")


class MetaView(APIView):
    """What a client needs before it starts: the forum's name, API version, languages, live updates."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(help_text="The community's name, in the language of the answer.")
        version = serializers.CharField(help_text="Version of this API (the schema's `info.version`).")
        language = serializers.CharField(help_text="Language of this answer and of the caller's pages.")
        languages = LanguageInfoSerializer(many=True, help_text="Languages the interface speaks.")
        websocket_url = serializers.CharField(
            allow_blank=True,
            help_text="Where live updates connect; empty means the same origin as this API.",
        )
        asyncapi_url = serializers.CharField(
            help_text="The WebSocket protocol (frames, event kinds, close codes) as an AsyncAPI 3.0 document."
        )

    @extend_schema(
        tags=["forum"],
        summary="About this forum",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        languages = [get_language_info(code) for code, _name in settings.LANGUAGES]
        body = {
            "name": forum_name(),
            "version": settings.SPECTACULAR_SETTINGS["VERSION"],
            "language": get_language(),
            "languages": languages,
            "websocket_url": settings.FORUM_WEBSOCKET_URL,
            "asyncapi_url": reverse("api-asyncapi"),
        }
        return Response(self.OutputSerializer(body).data)


class LanguageView(APIView):
    """Choose the interface language, as the page's language switch does, for a single-page app."""

    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        language = serializers.ChoiceField(choices=_language_choices())

    class OutputSerializer(serializers.Serializer[Any]):
        language = serializers.CharField()

    @extend_schema(
        tags=["forum"],
        summary="Choose the interface language",
        description="Sets the language cookie that pages and API answers follow from then on.",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        language: str = given.validated_data["language"]
        response = Response(self.OutputSerializer({"language": language}).data)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response
