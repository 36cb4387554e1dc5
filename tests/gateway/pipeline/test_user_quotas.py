"""A user's rate-limit quota is its tenant's user's alone: two tenants each with a user "bob"
have a quota each, counted under `users/<tenant>:bob`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc

from gateway.keys.model import NewKey
from gateway.pipeline.subjects import user_subject, user_tenant
from tests.gateway.pipeline.stack import Stack, running_stack
from tests.gateway.test_admin_routes import chat


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


async def add_key(stack: Stack, name: str, tenant: str, user: str, tier: str) -> None:
    created = await stack.gateway.keys.create_key(
        NewKey(tenant, user, tier, frozenset({"inference"}), name)
    )
    stack.keys[name] = created.plaintext
    stack.key_ids[name] = created.key.id


async def requests_left(stack: Stack, subject: str) -> int:
    async with grpc.aio.insecure_channel(stack.gateway.settings.ratelimit_addr) as channel:
        usage = await rl_grpc.RateLimitServiceStub(channel).GetUsage(
            rl_pb.GetUsageRequest(subject=subject, tier="tiny")
        )
    (left,) = (s.remaining for s in usage.limits if s.kind == rl_pb.LIMIT_KIND_REQUESTS_PER_MINUTE)
    return int(left)


async def test_one_tenants_calls_do_not_consume_another_tenants_user_of_the_same_name(
    stack: Stack,
) -> None:
    # The tiny tier allows 2 requests a minute per key, per user and per tenant.
    await add_key(stack, "globex-bob", "globex", "bob", "tiny")
    await add_key(stack, "acme-bob", "acme", "bob", "tiny")

    globex = [(await chat(stack, "globex-bob", f"call {i}")).status_code for i in range(3)]
    acme = await chat(stack, "acme-bob", "my first call this minute")

    assert globex == [200, 200, 429]  # globex's bob spent his own quota
    assert acme.status_code == 200, acme.text
    assert await requests_left(stack, "users/globex:bob") == 0
    assert await requests_left(stack, "users/acme:bob") == 1
    assert await requests_left(stack, "users/bob") == 2  # the bare name is nobody's any more


@pytest.mark.parametrize(
    ("subject", "tenant"),
    [
        (user_subject("acme", "bob"), "acme"),
        (user_subject("acme", "bob:ops"), "acme"),
        ("users/bob", None),
        ("users/acme:", None),
        ("users/:bob", None),
        ("tenants/acme", None),
        ("keys/acme:bob", None),
    ],
)
def test_a_user_subject_names_its_tenant_before_the_first_colon(
    subject: str, tenant: str | None
) -> None:
    assert user_tenant(subject) == tenant
