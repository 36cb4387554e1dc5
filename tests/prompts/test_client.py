"""The cached client against real servers: TTL, stale-while-revalidate, invalidation from the
change stream (one replica and several), reconnection, errors, local rendering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb

from services.prompts.app import build
from services.prompts.client import PromptClient
from services.prompts.rendering import Message
from services.prompts.settings import PromptsSettings
from svckit.errors import InvalidArgument, NotFound, Unavailable
from svckit.server import create_server
from tests.ports import free_port

from .conftest import RunningPrompts, StartPrompts
from .prompt_calls import chat_version, create, struct

WAIT = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get_calls(prompts: RunningPrompts) -> float:
    return prompts.metric(
        "grpc_server_started_total",
        grpc_service="switchboard.prompts.v1.PromptService",
        grpc_method="GetPrompt",
    )


async def move(prompts: RunningPrompts, version: int, label: str = "production") -> None:
    await prompts.stub.MoveLabel(pb.MoveLabelRequest(name="p", label=label, version=version))


async def test_reads_are_cached_by_label_for_the_ttl_and_by_version_for_good(
    prompts: RunningPrompts,
) -> None:
    await create(prompts.stub, "p", "v1", labels=["production"])
    clock = FakeClock()
    async with PromptClient(prompts.channel, ttl_seconds=30, watch=False, clock=clock) as client:
        first = await client.get("p")
        again = await client.get("p", label="production")
        by_number = await client.get("p", version=1)
        clock.now += 10**6
        still = await client.get("p", version=1)

    assert (first.label, first.version.number, first.version.template.text) == (
        "production",
        1,
        "v1",
    )
    assert again == first
    assert still == by_number
    assert (client.stats.misses, client.stats.hits, client.stats.stale) == (2, 2, 0)
    assert get_calls(prompts) == 2


async def test_an_expired_label_is_served_stale_while_it_is_refreshed(
    prompts: RunningPrompts,
) -> None:
    await create(prompts.stub, "p", "v1", labels=["production"])
    await create(prompts.stub, "p", "v2")
    clock = FakeClock()
    async with PromptClient(prompts.channel, ttl_seconds=30, watch=False, clock=clock) as client:
        await client.get("p")
        await move(prompts, 2)
        fresh = await client.get("p")  # within the TTL, without the stream: still version 1
        clock.now += 31
        stale = await client.get("p")
        await client.drain()
        refreshed = await client.get("p")

    assert (fresh.version.number, stale.version.number, refreshed.version.number) == (1, 1, 2)
    assert (client.stats.stale, client.stats.refreshes) == (1, 1)


async def test_a_refresh_that_finds_the_label_gone_drops_it(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "v1", labels=["staging"])
    clock = FakeClock()
    async with PromptClient(prompts.channel, ttl_seconds=30, watch=False, clock=clock) as client:
        await client.get("p", label="staging")
        await prompts.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="staging"))
        clock.now += 31
        await client.get("p", label="staging")  # stale, once
        await client.drain()

        with pytest.raises(NotFound) as caught:
            await client.get("p", label="staging")

    assert caught.value.reason == "LABEL_NOT_FOUND"
    assert caught.value.metadata == {"name": "p", "label": "staging"}


async def test_concurrent_misses_of_one_key_make_one_call(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "v1", labels=["production"])
    async with PromptClient(prompts.channel, watch=False) as client:
        found = await asyncio.gather(*(client.get("p") for _ in range(25)))

    assert {f.version.number for f in found} == {1}
    assert get_calls(prompts) == 1
    assert client.stats.misses == 25


async def test_a_moved_label_is_seen_once_the_change_arrives(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "v1", labels=["production"])
    await create(prompts.stub, "p", "v2")
    async with PromptClient(prompts.channel, ttl_seconds=3600) as client:
        await client.wait_synced()
        before = await client.get("p")
        await move(prompts, 2)
        await client.wait_changes(1)
        after = await client.get("p")

    assert (before.version.number, after.version.number) == (1, 2)


async def test_changes_through_another_replica_invalidate_the_cache(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as connected, start_prompts() as other:
        await create(other.stub, "p", "v1", labels=["production"])
        await create(other.stub, "p", "v2")
        async with PromptClient(connected.channel, ttl_seconds=3600) as client:
            await client.wait_synced()
            before = await client.get("p")
            await move(other, 2)
            await client.wait_changes(1)
            after = await client.get("p")
            await other.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="production"))
            await client.wait_changes(2)
            with pytest.raises(NotFound):
                await client.get("p")

    assert (before.version.number, after.version.number) == (1, 2)


async def test_what_was_cached_before_the_stream_went_live_is_dropped(
    prompts: RunningPrompts,
) -> None:
    await create(prompts.stub, "p", "v1", labels=["production"])
    client = PromptClient(prompts.channel, ttl_seconds=3600)
    await client.get("p")
    client.start()
    await client.wait_synced()
    await client.get("p")
    await client.aclose()

    assert client.stats.misses == 2


@asynccontextmanager
async def replica(database: dict[str, Any], port: int) -> AsyncIterator[None]:
    """A replica on a fixed port, so a client can find it again after a restart."""
    settings = PromptsSettings(change_poll_seconds=0.05, **database)
    service = build(settings, registry=CollectorRegistry())
    server = create_server(service.app, address=f"127.0.0.1:{port}")
    await server.start()
    try:
        yield
    finally:
        await server.stop(grace=0.5)


async def test_after_a_reconnection_the_missed_changes_are_replayed(
    database: dict[str, Any], start_prompts: StartPrompts
) -> None:
    port = free_port()
    async with (
        start_prompts() as writer,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        await create(writer.stub, "p", "v1", labels=["production"])
        await create(writer.stub, "p", "v2")
        client = PromptClient(channel, ttl_seconds=3600, reconnect_seconds=0.05)
        async with replica(database, port):
            client.start()
            await client.wait_synced()
            assert (await client.get("p")).version.number == 1
        await move(writer, 2)  # while the client's replica is down
        async with replica(database, port):
            await client.wait_synced(connections=2)
            after = await client.get("p")
        await client.aclose()

    assert after.version.number == 2
    assert client.stats.invalidations >= 1  # replayed, not merely dropped at reconnection


async def test_a_failed_refresh_keeps_serving_the_stale_version(
    database: dict[str, Any], start_prompts: StartPrompts
) -> None:
    port, clock = free_port(), FakeClock()
    async with (
        start_prompts() as writer,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        await create(writer.stub, "p", "v1", labels=["production"])
        client = PromptClient(channel, ttl_seconds=30, watch=False, clock=clock, timeout_seconds=2)
        async with replica(database, port):
            await client.get("p")
        clock.now += 31
        stale = await client.get("p")
        await client.drain()
        again = await client.get("p")
        await client.drain()
        with pytest.raises(Unavailable):
            await client.get("p", label="never-cached")
        await client.aclose()

    assert (stale.version.number, again.version.number) == (1, 1)
    assert (client.stats.stale, client.stats.refresh_failures) == (2, 2)


async def test_registry_errors_become_the_service_error_vocabulary(prompts: RunningPrompts) -> None:
    async with PromptClient(prompts.channel, watch=False) as client:
        with pytest.raises(NotFound) as missing:
            await client.get("nobody")
        with pytest.raises(InvalidArgument) as bad:
            await client.get("Bad Name", label="Bad Label")

    assert missing.value.reason == "PROMPT_NOT_FOUND"
    assert {v.field for v in bad.value.violations} == {"name", "label"}


async def test_local_rendering_matches_the_render_rpc(prompts: RunningPrompts) -> None:
    await prompts.stub.CreatePromptVersion(
        chat_version(
            "p",
            [("system", "Help {{ who }}."), ("placeholder", "history"), ("user", "{{ q }}")],
            labels=["production"],
            config={"temperature": 0.3},
        )
    )
    variables = {"who": "Ada", "q": "why?", "spare": True}
    async with PromptClient(prompts.channel, watch=False) as client:
        local = await client.render(
            "p", variables=variables, placeholders={"history": [Message("user", "hi")]}
        )
        with pytest.raises(InvalidArgument) as missing:
            await client.render("p", variables={"who": "Ada"}, placeholders={"history": []})
    remote = await prompts.stub.RenderPrompt(
        pb.RenderPromptRequest(
            name="p",
            variables=struct(variables),
            placeholders={
                "history": res.MessageList(messages=[res.ChatMessage(role="user", content="hi")])
            },
        )
    )

    assert [(m.role, m.content) for m in local.messages] == [
        (m.role, m.content) for m in remote.messages
    ]
    assert list(local.unused_variables) == list(remote.unused_variables) == ["spare"]
    assert dict(local.version.config) == {"temperature": 0.3}
    assert [v.field for v in missing.value.violations] == ["variables.q"]


async def test_the_least_recently_used_entries_go_first(prompts: RunningPrompts) -> None:
    for name in ("a", "b", "c"):
        await create(prompts.stub, name, "x", labels=["production"])
    async with PromptClient(prompts.channel, watch=False, max_entries=2) as client:
        await client.get("a")
        await client.get("b")
        await client.get("a")
        await client.get("c")  # evicts b
        await client.get("a")
        await client.get("b")

    assert (client.stats.hits, client.stats.misses) == (2, 4)
