"""Gradual rollouts with a clock moved by hand: steps applied when due, each a revision;
pause, resume, cancel; failures; and one application per step whatever the replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.flags import edits
from services.flags.document import FlagSetDocument
from services.flags.evaluation import Evaluator, ValueKind
from services.flags.revision import Authorship, RevisionKind
from services.flags.rollouts import Rollout, Rollouts, RolloutState, RolloutStep
from services.flags.state import FlagState
from services.flags.store import FlagStore
from svckit.errors import FailedPrecondition, InvalidArgument, NotFound

from .conftest import START, FakeClock

HOUR = 3600.0
BY = Authorship("ann", "ship it")
PLAN = [
    RolloutStep({"on": 1, "off": 99}, 0),
    RolloutStep({"on": 5, "off": 95}, HOUR),
    RolloutStep({"on": 25, "off": 75}, HOUR),
    RolloutStep({"on": 100, "off": 0}, 2 * HOUR),
]
FLAG = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


@pytest.fixture
async def rollouts(store: FlagStore, clock: FakeClock) -> Rollouts:
    document = FlagSetDocument.from_json({"flags": {"new-checkout": FLAG}})
    await store.write("web", edits.replace(document), kind=RevisionKind.IMPORT, by=BY)
    return Rollouts(store, clock=clock)


def weights_of(store_set: FlagSetDocument) -> list[list[object]]:
    targeting = store_set.flags["new-checkout"]["targeting"]
    buckets: list[list[object]] = targeting["fractional"]
    return buckets


async def test_a_plan_moves_the_weights_step_by_step(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start("web", "new-checkout", PLAN, BY)

    assert (started.state, started.applied_steps) == (RolloutState.RUNNING, 1)
    assert weights_of((await store.get("web")).document) == [["on", 1], ["off", 99]]
    assert started.next_step_at == datetime.fromtimestamp(START + HOUR, UTC)

    clock.advance(HOUR - 1)
    assert await rollouts.advance() == 0
    clock.advance(1)
    assert await rollouts.advance() == 1
    assert weights_of((await store.get("web")).document) == [["on", 5], ["off", 95]]

    clock.advance(HOUR)
    await rollouts.advance()
    clock.advance(2 * HOUR)
    await rollouts.advance()

    done = await rollouts.get(started.id)
    assert (done.state, done.applied_steps, done.next_step_at) == (RolloutState.COMPLETED, 4, None)
    assert weights_of((await store.get("web")).document) == [["on", 100], ["off", 0]]
    steps = [r for r in await store.list_revisions("web") if r.kind is RevisionKind.ROLLOUT_STEP]
    assert [r.id for r in reversed(steps)] == list(done.revisions)
    assert steps[0].message == f"rollout {started.id}: step 4 of 4: on 100, off 0"
    assert {r.author for r in steps} == {"ann"}


async def test_a_user_once_in_stays_in_as_the_rollout_grows(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    state = FlagState(store)
    evaluator = Evaluator(lambda: state.snapshot, {})
    users = [f"user-{i}" for i in range(400)]

    async def enabled() -> set[str]:
        await state.refresh()
        return {
            user
            for user in users
            if evaluator.resolve("new-checkout", ValueKind.BOOLEAN, {"targetingKey": user}).value
        }

    await rollouts.start("web", "new-checkout", PLAN, BY)
    at_1 = await enabled()
    clock.advance(HOUR)
    await rollouts.advance()
    at_5 = await enabled()
    clock.advance(HOUR)
    await rollouts.advance()
    at_25 = await enabled()

    assert at_1 <= at_5 <= at_25
    assert 0 < len(at_5) < len(at_25) < 200  # roughly 5% and 25% of 400
    clock.advance(2 * HOUR)
    await rollouts.advance()
    assert await enabled() == set(users)


async def test_pausing_keeps_the_wait_left_for_when_it_resumes(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start("web", "new-checkout", PLAN, BY)
    clock.advance(HOUR / 4)

    paused = await rollouts.pause(started.id)
    clock.advance(10 * HOUR)
    applied_while_paused = await rollouts.advance()
    resumed = await rollouts.resume(started.id)

    assert paused.state is RolloutState.PAUSED
    assert paused.remaining_seconds == 0.75 * HOUR
    assert applied_while_paused == 0
    assert resumed.next_step_at == datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=0.75)
    clock.advance(0.75 * HOUR)
    assert await rollouts.advance() == 1


async def test_cancelling_stops_the_plan_where_it_is(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start("web", "new-checkout", PLAN, BY)
    cancelled = await rollouts.cancel(started.id)
    clock.advance(10 * HOUR)

    assert await rollouts.advance() == 0
    assert cancelled.state is RolloutState.CANCELLED
    assert weights_of((await store.get("web")).document) == [["on", 1], ["off", 99]]
    with pytest.raises(FailedPrecondition) as refused:
        await rollouts.resume(started.id)
    assert refused.value.reason == "ROLLOUT_STATE"


async def test_a_rollout_whose_flag_is_gone_fails_and_writes_nothing(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start("web", "new-checkout", PLAN, BY)
    await store.write(
        "web", edits.delete_flag("new-checkout"), kind=RevisionKind.DELETE_FLAG, by=BY
    )
    version = await store.version()
    clock.advance(HOUR)

    assert await rollouts.advance() == 0

    failed = await rollouts.get(started.id)
    assert failed.state is RolloutState.FAILED
    assert "has no flag 'new-checkout'" in failed.failure
    assert await store.version() == version


async def test_a_later_first_step_waits(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start(
        "web", "new-checkout", [RolloutStep({"on": 10, "off": 90}, HOUR)], BY
    )

    assert started.applied_steps == 0
    assert "targeting" not in (await store.get("web")).document.flags["new-checkout"]
    clock.advance(HOUR)
    assert await rollouts.advance() == 1
    assert (await rollouts.get(started.id)).state is RolloutState.COMPLETED


async def test_plans_are_checked_against_the_flag(rollouts: Rollouts, store: FlagStore) -> None:
    bad = [
        RolloutStep({}, 0),
        RolloutStep({"on": -1, "off": 1}, 0),
        RolloutStep({"on": 0, "off": 0}, -5),
    ]
    with pytest.raises(InvalidArgument) as refused:
        await rollouts.start("web", "new-checkout", bad, BY)
    assert {v.field for v in refused.value.violations} == {
        "steps[0].weights", "steps[1].weights", "steps[2].weights", "steps[2].wait",
    }  # fmt: skip
    with pytest.raises(InvalidArgument):
        await rollouts.start("web", "new-checkout", [], BY)
    with pytest.raises(InvalidArgument, match="not variants of the flag: maybe"):
        await rollouts.start(
            "web", "new-checkout", [RolloutStep({"maybe": 1, "on": 1, "off": 1}, 0)], BY
        )
    with pytest.raises(InvalidArgument, match="every variant of the split: off"):
        await rollouts.start("web", "new-checkout", [RolloutStep({"on": 1}, 0)], BY)
    with pytest.raises(NotFound):
        await rollouts.start("web", "nope", PLAN, BY)
    with pytest.raises(NotFound):
        await rollouts.start("nope", "new-checkout", PLAN, BY)


async def test_one_rollout_at_a_time_per_flag(rollouts: Rollouts) -> None:
    first = await rollouts.start("web", "new-checkout", PLAN, BY)
    with pytest.raises(FailedPrecondition) as refused:
        await rollouts.start("web", "new-checkout", PLAN, BY)
    assert refused.value.reason == "ROLLOUT_ACTIVE"

    await rollouts.cancel(first.id)
    second = await rollouts.start("web", "new-checkout", PLAN, BY)
    listed = await rollouts.list_rollouts("web")
    assert {r.id for r in listed} == {first.id, second.id}
    assert await rollouts.list_rollouts("other") == []
    with pytest.raises(NotFound):
        await rollouts.get("missing")


async def test_replicas_ticking_together_apply_each_step_once(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    started = await rollouts.start("web", "new-checkout", PLAN, BY)
    replicas = [Rollouts(store, clock=clock) for _ in range(4)]
    clock.advance(HOUR)

    applied = await asyncio.gather(*(r.advance() for r in replicas))

    assert sum(applied) == 1
    done: Rollout = await rollouts.get(started.id)
    assert done.applied_steps == 2
    assert len(done.revisions) == 2


async def test_the_ticker_applies_steps_when_due(
    rollouts: Rollouts, store: FlagStore, clock: FakeClock
) -> None:
    applied = asyncio.Event()
    ticker = Rollouts(store, clock=clock, on_step=applied.set)
    started = await rollouts.start("web", "new-checkout", PLAN, BY)
    clock.advance(HOUR)

    task = asyncio.create_task(ticker.run(0.001))
    async with asyncio.timeout(10):
        await applied.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert (await rollouts.get(started.id)).applied_steps == 2


async def test_the_ticker_outlives_a_database_outage_and_says_so_once(
    rollouts: Rollouts, caplog: pytest.LogCaptureFixture
) -> None:
    tried = asyncio.Event()
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            tried.set()
        raise OSError("database away")

    rollouts.advance = failing  # type: ignore[method-assign]
    task = asyncio.create_task(rollouts.run(0.001))
    async with asyncio.timeout(10):
        await tried.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert caplog.text.count("could not advance rollouts") == 1
