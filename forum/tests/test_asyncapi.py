"""The WebSocket protocol's AsyncAPI document: valid AsyncAPI 3.0, served beside the OpenAPI schema, and
true of the frames a real gateway (a uvicorn process on the real Redis layer) sends and accepts.

The event kinds the apps push are checked against it in config/tests/test_asyncapi_events.py (the
kernel may not import apps).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml
from django.test import Client

from forum.asyncapi import asyncapi_document
from forum.realtime import CLOSE_UNAUTHENTICATED, MAX_INBOUND_FRAME_BYTES, MAX_SUBSCRIPTIONS, send_to_user
from forum.testing import processes
from forum.testing.asyncapi import assert_documented, frame_errors, official_schema, resolve
from forum.tests.test_realtime_gateway import (  # noqa: F401 - redis_prefix is a fixture
    close_code,
    member,
    new_key,
    open_socket,
    receive,
    redis_prefix,
    send,
    start_server,
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


# --- The document ---------------------------------------------------------------------------------------


def test_document_is_valid_asyncapi_3_by_the_official_schema(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    errors = [
        f"{'/'.join(map(str, error.path))}: {error.message}"
        for error in jsonschema.Draft7Validator(official_schema()).iter_errors(document)
    ]
    assert errors == []


def test_the_official_schema_refuses_a_broken_document(document: dict[str, Any]) -> None:
    # So that the test above can fail: an operation with an action AsyncAPI 3 does not have.
    broken = copy.deepcopy(document)
    broken["operations"]["ping"]["action"] = "publish"
    assert list(jsonschema.Draft7Validator(official_schema()).iter_errors(broken))


def test_every_reference_resolves_and_every_message_is_used(document: dict[str, Any]) -> None:
    for pointer in references(document):
        assert resolve(document, {"$ref": pointer}) is not None, pointer
    channel = document["channels"]["gateway"]
    used = {
        reference["$ref"]
        for operation in document["operations"].values()
        for reference in [*operation.get("messages", []), *operation.get("reply", {}).get("messages", [])]
    }
    # An operation names only its own channel's messages (AsyncAPI 3), and every message is sent by one.
    assert all(pointer.startswith("#/channels/gateway/messages/") for pointer in used)
    assert used == {f"#/channels/gateway/messages/{key}" for key in channel["messages"]}
    assert {pointer.rsplit("/", 1)[1] for pointer in references(channel["messages"])} == set(
        document["components"]["messages"]
    )


def test_every_example_is_a_documented_frame(document: dict[str, Any]) -> None:
    receive_keys = {"ping", "subscribe", "unsubscribe", "whisper"}
    checked = 0
    for key, message in document["components"]["messages"].items():
        for example in message.get("examples", []):
            direction = "receive" if key in receive_keys else "send"
            assert frame_errors(document, example["payload"], direction) == [], key
            checked += 1
    assert checked >= 5


def test_the_limits_the_document_states_are_the_gateways(document: dict[str, Any]) -> None:
    ready = document["components"]["messages"]["ready"]["payload"]["properties"]
    assert ready["max_subscriptions"] == {"const": MAX_SUBSCRIPTIONS}
    assert ready["max_frame_bytes"] == {"const": MAX_INBOUND_FRAME_BYTES}
    codes = {entry["code"] for entry in document["channels"]["gateway"]["x-close-codes"]}
    assert CLOSE_UNAUTHENTICATED in codes and 1011 in codes


# --- Served beside the OpenAPI schema ------------------------------------------------------------------


def test_served_as_yaml_and_json_with_this_deployments_socket(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "forum.example.org"]
    settings.FORUM_WEBSOCKET_URL = ""
    settings.SESSION_COOKIE_NAME = "forum_session"
    as_yaml = client.get("/api/asyncapi.yaml", headers={"Host": "forum.example.org"})
    as_json = client.get("/api/asyncapi.json", headers={"Host": "forum.example.org"})
    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert as_json["Content-Type"].startswith("application/json")
    served = yaml.safe_load(as_yaml.content)
    assert served == as_json.json()
    server = served["servers"]["forum"]
    assert (server["protocol"], server["host"]) == ("ws", "forum.example.org")
    assert served["channels"]["gateway"]["address"] == "/ws/"
    assert served["components"]["securitySchemes"]["sessionCookie"]["name"] == "forum_session"
    assert list(jsonschema.Draft7Validator(official_schema()).iter_errors(served)) == []


def test_served_document_names_the_configured_websocket_url(client: Client, settings: Any) -> None:
    settings.FORUM_WEBSOCKET_URL = "wss://live.example.org/socket/"
    served = client.get("/api/asyncapi.json").json()
    assert (served["servers"]["forum"]["protocol"], served["servers"]["forum"]["host"]) == (
        "wss",
        "live.example.org",
    )
    assert served["channels"]["gateway"]["address"] == "/socket/"


def test_linked_from_the_openapi_schema_and_meta(client: Client) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert "/api/asyncapi.yaml" in schema["info"]["description"]
    assert client.get("/api/v1/meta").json()["asyncapi_url"] == "/api/asyncapi.yaml"


@pytest.mark.django_db  # every write passes the address-ban check, which reads its version row
def test_writing_to_the_document_is_refused_in_the_api_error_shape(client: Client) -> None:
    response = client.post("/api/asyncapi.json", {})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


# --- True of a real gateway --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    redis_prefix: str,  # noqa: F811 - the fixture imported above
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[processes.Child]:
    child = start_server(
        "asgi-asyncapi", redis_prefix, tmp_path_factory.mktemp("asyncapi"), django_db_blocker
    )
    yield child
    child.stop()


class Recorder:
    """Sends client frames that must be documented, and checks every frame received against the
    document; ``seen`` collects the message keys received."""

    def __init__(self, document: dict[str, Any], ws: Any) -> None:
        self.document = document
        self.ws = ws
        self.seen: set[str] = set()

    def send(self, frame: dict[str, Any]) -> None:
        assert_documented(self.document, frame, "receive")
        send(self.ws, frame)

    def send_raw(self, content: str | bytes) -> None:
        """A frame the protocol does not allow, to draw an error."""
        send(self.ws, content)

    def receive(self) -> dict[str, Any]:
        frame = receive(self.ws)
        self.seen.add(assert_documented(self.document, frame, "send"))
        return frame


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_frame_of_a_session_is_documented(server: processes.Child, document: dict[str, Any]) -> None:
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    room = f"room:{new_key()}"
    with open_socket(server, alice_cookie) as alice_ws, open_socket(server, bob_cookie) as bob_ws:
        alice, bob = Recorder(document, alice_ws), Recorder(document, bob_ws)
        assert alice.receive()["user_id"] == alice_id
        assert bob.receive()["user_id"] == bob_id

        alice.send({"type": "ping", "ref": 7})
        assert alice.receive() == {"type": "pong", "ref": 7}
        for recorder in (alice, bob):
            recorder.send({"type": "subscribe", "topic": room, "ref": "s"})
            assert recorder.receive() == {"type": "subscribed", "topic": room, "ref": "s"}
        bob.send({"type": "whisper", "topic": room, "kind": "typing", "payload": {}})
        assert alice.receive() == {
            "type": "whisper",
            "topic": room,
            "kind": "typing",
            "sender_id": bob_id,
            "payload": {},
        }
        alice.send({"type": "unsubscribe", "topic": room})
        assert alice.receive() == {"type": "unsubscribed", "topic": room}

        # Each way a frame is refused: the error frame and its code are documented.
        refusals: list[tuple[Any, str]] = [
            ("{not json", "invalid_json"),
            (b"\x00binary", "invalid_message"),
            ({"type": "shout", "ref": "r1"}, "unknown_type"),
            ({"type": "subscribe", "topic": "no topic"}, "invalid_topic"),
            ({"type": "subscribe", "topic": f"nowhere:{new_key()}"}, "unknown_topic"),
            ({"type": "subscribe", "topic": f"room:staff{new_key()}"}, "forbidden"),
            ({"type": "subscribe", "topic": f"broken:{new_key()}"}, "unavailable"),
            ({"type": "whisper", "topic": room, "kind": "typing"}, "not_subscribed"),
            ("x" * (MAX_INBOUND_FRAME_BYTES + 1), "too_large"),
        ]
        for content, code in refusals:
            alice.send_raw(content if isinstance(content, str | bytes) else json.dumps(content))
            error = alice.receive()
            assert (error["type"], error["code"]) == ("error", code)

        news = f"news:{new_key()}"
        alice.send({"type": "subscribe", "topic": news})
        alice.receive()
        alice.send({"type": "whisper", "topic": news, "kind": "typing", "payload": {}})
        assert alice.receive()["code"] == "whisper_not_allowed"

        # A kind no app documents is not taken for a documented one: the check can fail.
        send_to_user(alice_id, "undocumented.kind", {"any": 1})
        frame = receive(alice_ws)
        assert frame["kind"] == "undocumented.kind"
        assert frame_errors(document, frame) != []

    assert {"ready", "pong", "subscribed", "unsubscribed", "whispered", "error"} <= alice.seen | bob.seen


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_socket_without_a_member_is_closed_with_a_documented_code(
    server: processes.Child, document: dict[str, Any]
) -> None:
    with open_socket(server) as ws:
        code = close_code(ws)
    assert code == CLOSE_UNAUTHENTICATED
    assert code in {entry["code"] for entry in document["channels"]["gateway"]["x-close-codes"]}
