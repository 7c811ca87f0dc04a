"""Every API error, whoever answers it (DRF, Django, a crash), has the one shape the schema documents."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from forum.errors import Conflict, RateLimited, ValidationFailed


@pytest.fixture(scope="module")
def error_schema() -> dict[str, Any]:
    """The Error component exactly as /api/schema/ publishes it, as a JSON Schema to check bodies."""
    schema = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    return {"$ref": "#/components/schemas/Error", "components": schema["components"]}


def assert_error(response: Any, error_schema: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, error_schema)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


class PlainInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=5)
    tags = serializers.ListField(child=serializers.CharField(max_length=3))


class FailingApiView(APIView):
    """A DRF view that fails each way a real one can."""

    permission_classes = [AllowAny]

    def get(self, request: Request, kind: str) -> Response:
        if kind == "validation-failed":
            raise ValidationFailed("The title is taken.", fields={"title": ["Choose another title."]})
        if kind == "conflict":
            raise Conflict("The thread is closed.", code="thread_closed")
        if kind == "rate-limited":
            raise RateLimited("Slow down.", retry_after=12)
        if kind == "django-validation":
            raise DjangoValidationError({"body": ["The post is empty."]})
        if kind == "http404":
            raise Http404("No Thread matches the given query.")
        if kind == "permission":
            raise PermissionDenied
        if kind == "crash":
            raise RuntimeError("an unexpected failure")
        return Response({"kind": kind})

    def post(self, request: Request, kind: str) -> Response:
        given = PlainInput(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(given.validated_data)


class MembersOnlyApiView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({})

    def post(self, request: Request) -> Response:
        return Response({"user_id": request.user.pk})


class StaffOnlyApiView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response({})


def failing_plain_view(request: HttpRequest, kind: str) -> HttpResponse:
    """A plain Django view under /api/ (not DRF's), to see that it answers the same shape."""
    if kind == "rate-limited":
        raise RateLimited("Slow down.", retry_after=7)
    if kind == "permission":
        raise PermissionDenied
    raise RuntimeError("an unexpected failure")


@pytest.fixture
def api_with_failures(settings: Any) -> Iterator[None]:
    real = get_resolver()
    urlconf = types.ModuleType("api_urls_with_failures")
    patterns: list[URLPattern | URLResolver] = [
        path("api/v1/failing/<str:kind>", FailingApiView.as_view()),
        path("api/v1/members-only", MembersOnlyApiView.as_view()),
        path("api/v1/staff-only", StaffOnlyApiView.as_view()),
        path("api/v1/plain/<str:kind>", failing_plain_view),
        *real.url_patterns,
    ]
    urlconf.urlpatterns = patterns  # type: ignore[attr-defined]
    for status in (400, 403, 404, 500):
        setattr(urlconf, f"handler{status}", real.resolve_error_handler(status))
    settings.ROOT_URLCONF = urlconf
    yield


@pytest.fixture
def api_client(db: None) -> Client:
    # Every write passes the address-ban check (apps/admin), which reads its version row.
    return Client(raise_request_exception=False)


@pytest.fixture(params=[False, True], ids=["production", "development"])
def profile(request: pytest.FixtureRequest, settings: Any) -> bool:
    """DEBUG off (production, the tests) and on (the development profile of `make run`), where
    Django answers unknown URLs and crashes with its own technical pages unless told otherwise."""
    settings.DEBUG = request.param
    return bool(request.param)


# --- What Django answers itself under /api/ ---------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/nothing", "/api/nothing/", "/api/v1/meta/extra", "/api/v2/meta", "/api/"]
)
def test_unknown_api_url_answers_the_json_error(
    profile: bool, api_client: Client, error_schema: dict[str, Any], url: str
) -> None:
    error = assert_error(api_client.get(url), error_schema, 404, "not_found")
    assert error["fields"] == {}
    # Not a page's answer in disguise: nothing of Django's technical 404 page.
    assert "urlpatterns" not in error["message"].lower()


def test_unknown_api_url_keeps_the_headers_other_middleware_set(
    profile: bool, api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.get("/api/v1/nothing")
    assert_error(response, error_schema, 404, "not_found")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"]


def test_a_known_api_url_without_its_slash_still_redirects(profile: bool, api_client: Client) -> None:
    response = api_client.get("/api/schema")
    assert response.status_code == 301
    assert response["Location"] == "/api/schema/"


def test_unknown_page_outside_the_api_stays_html(profile: bool, api_client: Client) -> None:
    response = api_client.get("/nothing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_crash_in_a_plain_view_under_the_api_answers_the_json_error(
    profile: bool, api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    error = assert_error(api_client.get("/api/v1/plain/crash"), error_schema, 500, "server_error")
    assert "unexpected failure" not in error["message"]


def test_application_error_in_a_plain_view_under_the_api_answers_json(
    api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.get("/api/v1/plain/rate-limited")
    error = assert_error(response, error_schema, 429, "rate_limited")
    assert error["message"] == "Slow down."
    assert response["Retry-After"] == "7"
    assert_error(api_client.get("/api/v1/plain/permission"), error_schema, 403, "permission_denied")


# --- What DRF answers -------------------------------------------------------------------------------


def test_wrong_method_answers_405_in_the_same_shape(api_client: Client, error_schema: dict[str, Any]) -> None:
    response = api_client.post("/api/v1/meta", {}, content_type="application/json")
    error = assert_error(response, error_schema, 405, "method_not_allowed")
    assert "POST" in error["message"]
    assert "GET" in response["Allow"]


def test_invalid_input_answers_400_with_the_fields_that_are_wrong(
    api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.post("/api/v1/language", {"language": "klingon"}, content_type="application/json")
    error = assert_error(response, error_schema, 400, "invalid")
    assert list(error["fields"]) == ["language"]
    assert "klingon" in error["fields"]["language"][0]


def test_missing_input_names_the_missing_field(api_client: Client, error_schema: dict[str, Any]) -> None:
    response = api_client.post("/api/v1/language", {}, content_type="application/json")
    error = assert_error(response, error_schema, 400, "invalid")
    assert error["fields"] == {"language": ["This field is required."]}


def test_malformed_json_answers_400_not_500(api_client: Client, error_schema: dict[str, Any]) -> None:
    response = api_client.post("/api/v1/language", "{not json", content_type="application/json")
    assert_error(response, error_schema, 400, "parse_error")


def test_unsupported_media_type_answers_415(api_client: Client, error_schema: dict[str, Any]) -> None:
    response = api_client.post("/api/v1/language", "language=ru", content_type="text/plain")
    assert_error(response, error_schema, 415, "unsupported_media_type")


def test_asking_for_html_from_a_json_endpoint_answers_406(
    api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.get("/api/v1/meta", headers={"Accept": "text/html"})
    assert_error(response, error_schema, 406, "not_acceptable")


def test_nested_and_listed_field_errors_are_flattened_to_paths(
    api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.post(
        "/api/v1/failing/x",
        {"title": "far too long", "tags": ["ok", "much too long"]},
        content_type="application/json",
    )
    error = assert_error(response, error_schema, 400, "invalid")
    assert set(error["fields"]) == {"title", "tags.1"}
    assert all(isinstance(message, str) for messages in error["fields"].values() for message in messages)


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("validation-failed", 400, "invalid", "The title is taken."),
        ("conflict", 409, "thread_closed", "The thread is closed."),
        ("rate-limited", 429, "rate_limited", "Slow down."),
        ("django-validation", 400, "invalid", "The input is not valid."),
        ("http404", 404, "not_found", "Not found."),
        ("permission", 403, "permission_denied", "You do not have permission to perform this action."),
    ],
)
def test_errors_raised_in_a_drf_view_take_the_one_shape(
    api_with_failures: None,
    api_client: Client,
    error_schema: dict[str, Any],
    kind: str,
    status: int,
    code: str,
    message: str,
) -> None:
    error = assert_error(api_client.get(f"/api/v1/failing/{kind}"), error_schema, status, code)
    assert error["message"] == message


def test_application_error_fields_and_headers_reach_the_client(
    api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    error = assert_error(api_client.get("/api/v1/failing/validation-failed"), error_schema, 400, "invalid")
    assert error["fields"] == {"title": ["Choose another title."]}
    response = api_client.get("/api/v1/failing/rate-limited")
    assert response["Retry-After"] == "12"
    error = assert_error(api_client.get("/api/v1/failing/django-validation"), error_schema, 400, "invalid")
    assert error["fields"] == {"body": ["The post is empty."]}


def test_internal_404_messages_do_not_leak(api_with_failures: None, api_client: Client) -> None:
    body = api_client.get("/api/v1/failing/http404").json()
    assert "Thread" not in body["error"]["message"]


def test_a_crash_in_a_drf_view_is_a_500_in_the_same_shape(
    profile: bool, api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    error = assert_error(api_client.get("/api/v1/failing/crash"), error_schema, 500, "server_error")
    assert "unexpected failure" not in error["message"]


# --- Who is calling: 401 without (good) credentials, 403 when they are not enough ---------------------

BEARER_CHALLENGE = 'Bearer realm="api"'


def test_anonymous_caller_of_a_members_only_endpoint_is_asked_to_sign_in(
    profile: bool, api_with_failures: None, api_client: Client, error_schema: dict[str, Any]
) -> None:
    response = api_client.get("/api/v1/members-only")
    assert_error(response, error_schema, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def test_a_real_members_only_endpoint_answers_401_to_the_anonymous(
    api_client: Client, error_schema: dict[str, Any]
) -> None:
    for response in (
        api_client.get("/api/v1/bookmarks"),
        api_client.get("/api/v1/notifications/unread-count"),
        api_client.post("/api/v1/threads/1/posts", {"body": "x"}, content_type="application/json"),
    ):
        assert_error(response, error_schema, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == BEARER_CHALLENGE


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer a b"])
def test_bad_credentials_answer_401_with_a_bearer_challenge(
    api_with_failures: None, api_client: Client, error_schema: dict[str, Any], header: str
) -> None:
    response = api_client.get("/api/v1/members-only", headers={"Authorization": header})
    assert response.status_code == 401
    assert_error(response, error_schema, 401, response.json()["error"]["code"])
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_member_whose_rights_are_not_enough_gets_403(
    api_with_failures: None, api_client: Client, error_schema: dict[str, Any], django_user_model: Any
) -> None:
    api_client.force_login(django_user_model.objects.create_user(username="plain-member"))
    assert api_client.get("/api/v1/members-only").status_code == 200
    response = api_client.get("/api/v1/staff-only")
    assert_error(response, error_schema, 403, "permission_denied")
    assert not response.has_header("WWW-Authenticate")


def test_the_sites_session_calls_still_need_their_csrf_token(
    api_with_failures: None, error_schema: dict[str, Any], django_user_model: Any
) -> None:
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    user = django_user_model.objects.create_user(username="htmx-member")
    browser.force_login(user)
    refused = browser.post("/api/v1/members-only", {}, content_type="application/json")
    # Signed in, but the request may be forged: refused as not allowed, not as "sign in".
    error = assert_error(refused, error_schema, 403, "permission_denied")
    assert "CSRF" in error["message"]
    browser.get("/")  # sets the csrftoken cookie, as any page does
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/members-only", {}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"user_id": user.pk}


# --- The kernel endpoints ----------------------------------------------------------------------------


def test_meta_tells_a_client_what_it_needs_to_start(client: Client, settings: Any) -> None:
    settings.FORUM_NAME = "Harbour Club"
    settings.FORUM_WEBSOCKET_URL = "wss://live.example.org/ws/"
    body = client.get("/api/v1/meta").json()
    assert body == {
        "name": "Harbour Club",
        "version": settings.SPECTACULAR_SETTINGS["VERSION"],
        "language": "en",
        "languages": [
            {"code": "en", "name": "English", "name_local": "English"},
            {"code": "ru", "name": "Russian", "name_local": "Русский"},
        ],
        "websocket_url": "wss://live.example.org/ws/",
        "asyncapi_url": "/api/asyncapi.yaml",
    }


def test_meta_answers_in_the_callers_language(client: Client) -> None:
    body = client.get("/api/v1/meta", headers={"Accept-Language": "ru"}).json()
    assert body["language"] == "ru"
    assert body["name"] == "Форум"
