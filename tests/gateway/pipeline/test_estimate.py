"""Token estimates: about four characters a token over everything the model reads, and the
request's own output limit or the configured estimate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from google.protobuf import struct_pb2
from switchboard.router.v1 import router_service_pb2 as pb

from gateway.keys.model import generate
from gateway.pipeline.estimate import TOKENS_PER_MESSAGE, estimate_tokens
from gateway.pipeline.request_ids import client_request_id, new_request_id
from gateway.pipeline.subjects import quota_subjects
from tests.gateway.pipeline.stack import KEYS


def test_input_is_characters_over_four_plus_framing_per_message() -> None:
    request = pb.CompleteRequest(
        messages=[pb.ChatMessage(role="user", content="x" * 36)]  # 4 + 36 characters
    )

    estimate = estimate_tokens(request, default_output=500)

    assert estimate.input_tokens == 10 + TOKENS_PER_MESSAGE
    assert (estimate.max_output_tokens, estimate.output_tokens) == (0, 500)
    assert estimate.total == 10 + TOKENS_PER_MESSAGE + 500


def test_the_requests_own_limit_and_its_tools_count() -> None:
    parameters = struct_pb2.Struct()
    parameters.update({"type": "object"})
    bare = pb.CompleteRequest(max_tokens=7)
    with_tool = pb.CompleteRequest(
        max_tokens=7,
        tools=[pb.Tool(function=pb.FunctionDefinition(name="n" * 40, parameters=parameters))],
    )

    assert estimate_tokens(bare, 500).output_tokens == 7
    assert estimate_tokens(bare, 500).max_output_tokens == 7
    assert estimate_tokens(with_tool, 500).input_tokens > estimate_tokens(bare, 500).input_tokens


def test_client_request_ids_are_kept_only_when_plain() -> None:
    assert client_request_id("trace-1:abc.2") == "trace-1:abc.2"
    assert client_request_id("has space") is None
    assert client_request_id("x" * 129) is None
    assert client_request_id(None) is None
    assert new_request_id() != new_request_id()


def test_a_user_outside_the_subject_alphabet_is_left_out_of_the_quota_check() -> None:
    key, _ = generate(KEYS["acme"], datetime.now(UTC))
    spaced = replace(key, user="Alice Smith")
    # The subject id is "acme:" and the user: 200 characters at most.
    longest = replace(key, user="a" * 195)
    too_long = replace(key, user="a" * 196)

    assert [s.name for s in quota_subjects(key)] == [
        f"keys/{key.id}",
        "users/acme:alice",
        "tenants/acme",
    ]
    assert [s.name for s in quota_subjects(spaced)] == [f"keys/{key.id}", "tenants/acme"]
    assert f"users/acme:{'a' * 195}" in [s.name for s in quota_subjects(longest)]
    assert [s.name for s in quota_subjects(too_long)] == [f"keys/{key.id}", "tenants/acme"]
    assert {s.tier for s in quota_subjects(key)} == {"pro"}
