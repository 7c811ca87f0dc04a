"""The OpenAPI schema is valid, documents the error shape on every operation, and its UI is local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from forum.tests.test_pages import Page, foreign_urls

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    loaded: dict[str, Any] = yaml.safe_load(response.content)
    return loaded


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (route, method, operation)
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def error_statuses(operation: dict[str, Any]) -> set[str]:
    return {
        status
        for status, response in operation["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") == ERROR_REF
    }


# --- The published schema ----------------------------------------------------------------------------


def test_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_schema_generates_without_warnings_or_errors(tmp_path: Path) -> None:
    # --fail-on-warn turns every guess drf-spectacular had to make (an undocumented view, a name
    # clash between two components) into a failure, for every app's API as well as the kernel's.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["paths"]


def test_error_component_is_the_one_shape(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["Error"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    detail = components["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "fields"}
    assert set(detail["required"]) == {"code", "message", "fields"}
    assert detail["properties"]["fields"]["additionalProperties"] == {
        "type": "array",
        "items": {"type": "string"},
    }


def test_every_operation_with_input_documents_its_400(schema: dict[str, Any]) -> None:
    with_input = [
        (route, method, operation)
        for route, method, operation in operations(schema)
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
    ]
    assert with_input, "no operation takes input: the check below would prove nothing"
    assert [
        (route, method) for route, method, operation in with_input if "400" not in error_statuses(operation)
    ] == []


def test_every_operation_with_a_path_parameter_documents_its_404(schema: dict[str, Any]) -> None:
    missing = [
        (route, method)
        for route, method, operation in operations(schema)
        if "{" in route and "404" not in error_statuses(operation)
    ]
    assert missing == []


def test_kernel_operations_document_exactly_their_errors(schema: dict[str, Any]) -> None:
    meta = schema["paths"]["/api/v1/meta"]["get"]
    language = schema["paths"]["/api/v1/language"]["post"]
    assert error_statuses(meta) == set()  # open to anyone, no input, no parameters
    assert error_statuses(language) == {"400"}
    assert meta["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MetaOutput")


def test_members_only_operations_document_401_then_403(schema: dict[str, Any]) -> None:
    # The bearer scheme comes first: an anonymous caller is asked to sign in (401), a member who may
    # not is refused (403).
    bookmarks = schema["paths"]["/api/v1/bookmarks"]["get"]
    assert {"401", "403"} <= error_statuses(bookmarks)
    assert error_statuses(schema["paths"]["/api/v1/forums"]["get"]) == set()


def test_the_read_endpoints_of_one_post_and_one_member_are_documented(schema: dict[str, Any]) -> None:
    post = schema["paths"]["/api/v1/posts/{post_id}"]["get"]
    assert post["tags"] == ["threads"] and error_statuses(post) == {"404"}
    for kind in ("threads", "posts"):
        listing = schema["paths"][f"/api/v1/members/{{user_id}}/{kind}"]["get"]
        assert listing["tags"] == ["members"]
        assert error_statuses(listing) == {"400", "404"}
        page = next(parameter for parameter in listing["parameters"] if parameter["name"] == "page")
        assert page["schema"] == {"type": "integer", "minimum": 1, "maximum": 1_000_000}


# --- The schema class, on views made for the purpose ---------------------------------------------------


class ThreadView(APIView):
    permission_classes = [IsAuthenticated]
    authentication_classes = [SessionAuthentication]
    throttle_classes = [AnonRateThrottle]

    class OutputSerializer(serializers.Serializer[Any]):
        title = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, thread_id: int) -> Response:
        return Response({})


class PostView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    authentication_classes = [BasicAuthentication]

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField()

    class OutputSerializer(serializers.Serializer[Any]):
        post_id = serializers.IntegerField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        return Response({})

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer, 403: OpenApiResponse(description="Closed threads take no posts.")},
    )
    def post(self, request: Request) -> Response:
        return Response({})


class OpenView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ThreadView.OutputSerializer})
    def get(self, request: Request) -> Response:
        return Response({})


@pytest.fixture(scope="module")
def made_schema() -> dict[str, Any]:
    generator = SchemaGenerator(
        patterns=[
            path("api/v1/threads/<int:thread_id>", ThreadView.as_view()),
            path("api/v1/posts", PostView.as_view()),
            path("api/v1/open", OpenView.as_view()),
        ]
    )
    generated: dict[str, Any] = generator.get_schema(request=None, public=True)
    return generated


def test_members_only_view_documents_403_404_and_429(made_schema: dict[str, Any]) -> None:
    thread = made_schema["paths"]["/api/v1/threads/{thread_id}"]["get"]
    # A session cookie has no WWW-Authenticate scheme: DRF refuses the anonymous with 403, not 401.
    assert error_statuses(thread) == {"403", "404", "429"}


def test_a_scheme_with_a_challenge_documents_401_and_reading_stays_open(made_schema: dict[str, Any]) -> None:
    posts = made_schema["paths"]["/api/v1/posts"]
    assert error_statuses(posts["get"]) == set()
    # 409: the Idempotency-Key of another request (a write only members may make).
    assert error_statuses(posts["post"]) == {"400", "401", "409"}


def idempotency_header(operation: dict[str, Any]) -> dict[str, Any] | None:
    headers = [
        p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"
    ]
    return headers[0] if headers else None


def test_writes_of_members_document_the_idempotency_key_and_others_do_not(schema: dict[str, Any]) -> None:
    reply = schema["paths"]["/api/v1/threads/{thread_id}/posts"]
    header = idempotency_header(reply["post"])
    assert header is not None and not header.get("required") and header["schema"] == {"type": "string"}
    assert "idempotency_key_reused" in header["description"]
    assert "409" in reply["post"]["responses"]
    assert idempotency_header(reply["get"]) is None  # reading needs no key
    assert idempotency_header(schema["paths"]["/api/v1/language"]["post"]) is None  # anyone may call it
    assert idempotency_header(schema["paths"]["/api/v1/auth/token"]["post"]) is None  # answers secrets
    assert "Idempotency-Key" in schema["info"]["description"]


def test_an_explicit_response_wins_over_the_default_error(made_schema: dict[str, Any]) -> None:
    refused = made_schema["paths"]["/api/v1/posts"]["post"]["responses"]["403"]
    assert refused["description"] == "Closed threads take no posts."


def test_open_view_documents_no_refusal(made_schema: dict[str, Any]) -> None:
    assert error_statuses(made_schema["paths"]["/api/v1/open"]["get"]) == set()


def test_nested_serializers_are_named_after_their_view(made_schema: dict[str, Any]) -> None:
    components = set(made_schema["components"]["schemas"])
    assert {"ThreadOutput", "PostOutput", "PostInputRequest", "Error", "ErrorDetail"} <= components
    assert "Output" not in components
    validate_schema(made_schema)


# --- Swagger UI -----------------------------------------------------------------------------------------


def test_api_docs_page_loads_only_local_assets_and_no_inline_code(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = Page(response.content.decode())
    urls = page.urls()
    scripts = [script["src"] for script in page.find("script")]
    assert any("swagger-ui-bundle.js" in src for src in scripts)
    assert foreign_urls(urls) == []
    assert all(url.startswith("/") for url in urls)
    assert page.inline_scripts == [] and page.style_elements == 0
    assert page.find("html")[0]["lang"] == "en"


def test_api_docs_init_script_is_local_and_asks_no_outside_validator(client: Client) -> None:
    page = Page(client.get("/api/docs/").content.decode())
    init = [
        src for src in (script["src"] for script in page.find("script")) if "script" in src.split("?")[-1]
    ]
    assert len(init) == 1
    response = client.get(init[0])
    assert response.status_code == 200
    script = response.content.decode()
    assert 'url: "/api/schema/"' in script
    assert '"validatorUrl": null' in script
    assert "http://" not in script and "https://" not in script


def test_api_docs_without_javascript_points_at_the_schema(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()
    assert '<noscript><p class="api-docs-noscript">' in html
    assert '<a href="/api/schema/">' in html
