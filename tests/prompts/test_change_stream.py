"""WatchPromptChanges: what a caching client follows, from one replica or several."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from svckit.errors import ResourceExhausted

from .conftest import StartPrompts
from .prompt_calls import create

WAIT = 10.0
Changes = list[tuple[str, str, int, str]]


async def next_changes(call: Any) -> tuple[Changes, pb.WatchPromptChangesResponse]:
    response = await asyncio.wait_for(call.read(), WAIT)
    assert response is not grpc.aio.EOF
    kinds = res.ChangeKind.Name
    changes = [(kinds(c.kind), c.name, c.version, c.label) for c in response.changes]
    return changes, response


async def watch(
    stub: pb_grpc.PromptServiceStub, **fields: Any
) -> tuple[Any, pb.WatchPromptChangesResponse]:
    call = stub.WatchPromptChanges(pb.WatchPromptChangesRequest(**fields))
    first = await asyncio.wait_for(call.read(), WAIT)
    return call, first


async def test_a_watcher_hears_every_kind_of_change_in_order(start_prompts: StartPrompts) -> None:
    async with start_prompts() as prompts:
        await create(prompts.stub, "before", "made before the watch")
        call, first = await watch(prompts.stub)
        assert not first.changes
        assert not first.reset
        assert first.sequence > 0

        await create(prompts.stub, "p", "v1", labels=["production"], tags=["a"])
        created, response = await next_changes(call)
        await prompts.stub.MoveLabel(pb.MoveLabelRequest(name="p", label="staging", version=1))
        moved, _ = await next_changes(call)
        await prompts.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="staging"))
        deleted, last = await next_changes(call)
        call.cancel()

    assert created == [
        ("CHANGE_KIND_VERSION_CREATED", "p", 1, ""),
        ("CHANGE_KIND_LABEL_MOVED", "p", 1, "latest"),
        ("CHANGE_KIND_LABEL_MOVED", "p", 1, "production"),
        ("CHANGE_KIND_TAGS_CHANGED", "p", 0, ""),
    ]
    sequences = [c.sequence for c in response.changes]
    assert sequences == sorted(sequences)
    assert sequences[0] > first.sequence
    assert response.sequence == sequences[-1]
    assert moved == [("CHANGE_KIND_LABEL_MOVED", "p", 1, "staging")]
    assert deleted == [("CHANGE_KIND_LABEL_DELETED", "p", 0, "staging")]
    assert last.sequence > response.sequence


async def test_a_watcher_of_a_folder_hears_only_that_folder(start_prompts: StartPrompts) -> None:
    async with start_prompts() as prompts:
        call, _ = await watch(prompts.stub, name_prefix="support/")
        await create(prompts.stub, "sales/pitch", "elsewhere")
        await create(prompts.stub, "support/reply", "here")

        changes, _ = await next_changes(call)
        call.cancel()

    assert {name for _, name, _, _ in changes} == {"support/reply"}


async def test_changes_through_another_replica_reach_this_ones_watchers(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as writer, start_prompts() as reader:
        call, _ = await watch(reader.stub)

        await create(writer.stub, "shared", "v1")
        await writer.stub.MoveLabel(
            pb.MoveLabelRequest(name="shared", label="production", version=1)
        )
        seen: Changes = []
        while len(seen) < 3:
            changes, _ = await next_changes(call)
            seen += changes
        call.cancel()

    assert seen == [
        ("CHANGE_KIND_VERSION_CREATED", "shared", 1, ""),
        ("CHANGE_KIND_LABEL_MOVED", "shared", 1, "latest"),
        ("CHANGE_KIND_LABEL_MOVED", "shared", 1, "production"),
    ]


async def test_a_watcher_resumes_after_the_last_sequence_it_saw(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as prompts:
        await create(prompts.stub, "seen", "before the first watch")
        call, first = await watch(prompts.stub)
        call.cancel()
        await create(prompts.stub, "p", "missed while away")
        await create(prompts.stub, "other/q", "also missed")

        resumed, replay = await watch(prompts.stub, after_sequence=first.sequence)
        from_folder, folder_replay = await watch(
            prompts.stub, after_sequence=first.sequence, name_prefix="other/"
        )
        await create(prompts.stub, "p", "live again")
        live, _ = await next_changes(resumed)
        resumed.cancel()
        from_folder.cancel()

    assert not replay.reset
    assert [(res.ChangeKind.Name(c.kind), c.name) for c in replay.changes] == [
        ("CHANGE_KIND_VERSION_CREATED", "p"),
        ("CHANGE_KIND_LABEL_MOVED", "p"),
        ("CHANGE_KIND_VERSION_CREATED", "other/q"),
        ("CHANGE_KIND_LABEL_MOVED", "other/q"),
    ]
    assert replay.sequence == replay.changes[-1].sequence
    assert {c.name for c in folder_replay.changes} == {"other/q"}
    assert live == [
        ("CHANGE_KIND_VERSION_CREATED", "p", 2, ""),
        ("CHANGE_KIND_LABEL_MOVED", "p", 2, "latest"),
    ]


async def test_a_watcher_ahead_of_this_replica_skips_what_it_has_seen(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as prompts:
        call, first = await watch(prompts.stub, after_sequence=10**9)
        await create(prompts.stub, "p", "x")
        await create(prompts.stub, "p", "y")
        call.cancel()

    assert first.sequence == 10**9
    assert not first.changes
    assert not first.reset


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_watcher_resuming_past_the_retained_log_is_told_to_reset(
    start_prompts: StartPrompts,
) -> None:
    clock = MovableClock()
    async with start_prompts(change_retention_seconds=3600, now=clock) as prompts:
        await create(prompts.stub, "seen", "before the first watch")
        call, first = await watch(prompts.stub)
        call.cancel()
        await create(prompts.stub, "p", "old")
        clock.now += timedelta(hours=2)
        await create(prompts.stub, "p", "new")

        trimmed = await prompts.service.feed.trim()
        resumed, replay = await watch(prompts.stub, after_sequence=first.sequence)
        resumed.cancel()
        recent, recent_replay = await watch(prompts.stub, after_sequence=replay.sequence - 2)
        recent.cancel()

    assert trimmed >= 2
    assert replay.reset
    assert not replay.changes
    assert not recent_replay.reset
    assert len(recent_replay.changes) == 2


async def test_a_watcher_too_slow_to_keep_up_is_cut_off(start_prompts: StartPrompts) -> None:
    async with start_prompts(watch_queue_size=3) as prompts:
        feed = prompts.service.feed
        async with feed.subscribe() as slow, feed.subscribe("p") as fast:
            for i in range(2):  # two changes each: the second overflows the slow one
                await create(prompts.stub, "p", f"v{i}")
                await asyncio.wait_for(anext(fast), WAIT)
            with pytest.raises(ResourceExhausted):
                async for _ in slow:
                    pass
        assert prompts.metric("prompts_watchers_dropped_total") == 1
        assert prompts.metric("prompts_watchers") == 0


@pytest.mark.parametrize(
    "request_",
    [
        pb.WatchPromptChangesRequest(name_prefix="Bad/"),
        pb.WatchPromptChangesRequest(after_sequence=-1),
    ],
)
async def test_bad_watch_requests_are_invalid_argument(
    start_prompts: StartPrompts, request_: pb.WatchPromptChangesRequest
) -> None:
    async with start_prompts() as prompts:
        call = prompts.stub.WatchPromptChanges(request_)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stopping_the_server_ends_the_streams(start_prompts: StartPrompts) -> None:
    async with start_prompts() as prompts:
        call, _ = await watch(prompts.stub)
        prompts.service.feed.close()

        ended = await asyncio.wait_for(call.read(), WAIT)

    assert ended is grpc.aio.EOF


async def test_a_failed_poll_is_counted_and_the_feed_keeps_going(
    start_prompts: StartPrompts, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_prompts() as prompts:
        feed = prompts.service.feed
        failures = {"left": 1}
        original: Callable[..., Any] = feed.poll_once

        async def flaky() -> int:
            if failures["left"]:
                failures["left"] -= 1
                raise OSError("database away")
            return int(await original())

        call, _ = await watch(prompts.stub)
        monkeypatch.setattr(feed, "poll_once", flaky)
        await create(prompts.stub, "p", "x")

        changes, _ = await next_changes(call)
        call.cancel()

        assert prompts.metric("prompts_change_poll_errors_total") == 1
    assert [kind for kind, *_ in changes] == [
        "CHANGE_KIND_VERSION_CREATED",
        "CHANGE_KIND_LABEL_MOVED",
    ]
