"""Gradual rollouts: a plan of steps moving a flag's fractional weights over time.

A plan is a list of steps, each a set of weights for the flag's split and the wait before it
(for example on 1/off 99 at once, then 5/95 after an hour, 25/75 after a day, 100/0 after
another). Each step is applied `wait` after the previous one was (the first `wait` after the
start; a first wait of zero applies it at once) and is recorded as a revision of the flag's
set (kind ROLLOUT_STEP, the rollout's author, a message naming the step), so the audit list
shows the rollout and any step can be rolled back like any other change.

Time is injected (`clock`); `advance()` applies what is due at the clock's now, and the service
calls it every `FLAGS_ROLLOUT_TICK_SECONDS` (`run`). Every replica runs the ticker: each step
is applied in a store transaction that re-reads the rollout under the global write lock and
only acts if the step is still due, so a step is applied once however many replicas tick.

A running rollout can be paused (the wait left is kept and restarts on resume) and cancelled
(the flag keeps the last weights applied). If a step cannot be applied (the flag, or its single
literal split, is gone) the rollout fails with the reason; nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import RowMapping, insert, select, update

from services.flags.revision import Authorship, RevisionKind
from services.flags.split import MAX_TOTAL_WEIGHT, split_variants, with_weights
from services.flags.store import FlagStore, WriteTransaction, as_utc
from services.flags.tables import rollouts
from svckit.errors import FailedPrecondition, NotFound, ServiceError, Violations

log = logging.getLogger(__name__)

MAX_STEPS = 100
MAX_WAIT_SECONDS = 366 * 86400.0


class RolloutState(Enum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


ACTIVE = (RolloutState.RUNNING.value, RolloutState.PAUSED.value)


@dataclass(frozen=True)
class RolloutStep:
    weights: Mapping[str, int]
    wait_seconds: float


@dataclass(frozen=True)
class Rollout:
    id: str
    flag_set_id: str
    flag_key: str
    steps: tuple[RolloutStep, ...]
    state: RolloutState
    applied_steps: int
    next_step_at: datetime | None
    remaining_seconds: float | None
    author: str
    created_at: datetime
    updated_at: datetime
    revisions: tuple[int, ...] = ()
    failure: str = ""


def check_steps(steps: Sequence[RolloutStep]) -> None:
    v = Violations()
    v.check(1 <= len(steps) <= MAX_STEPS, "steps", f"must hold 1 to {MAX_STEPS} steps")
    for index, step in enumerate(steps):
        path = f"steps[{index}]"
        total = sum(step.weights.values())
        v.check(bool(step.weights), f"{path}.weights", "must weigh at least one variant")
        v.check(all(w >= 0 for w in step.weights.values()), f"{path}.weights", "must be >= 0")
        v.check(
            0 < total <= MAX_TOTAL_WEIGHT,
            f"{path}.weights",
            f"must add up to more than 0 and at most {MAX_TOTAL_WEIGHT}",
        )
        v.check(
            0 <= step.wait_seconds <= MAX_WAIT_SECONDS,
            f"{path}.wait",
            "must be between 0 and 366 days",
        )
    v.raise_if_any()


class Rollouts:
    def __init__(
        self,
        store: FlagStore,
        *,
        clock: Callable[[], float] = time.time,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_step = on_step

    async def start(
        self, flag_set_id: str, flag_key: str, steps: Sequence[RolloutStep], by: Authorship
    ) -> Rollout:
        check_steps(steps)
        async with self._store.transaction() as tx:
            definition = await _flag(tx, flag_set_id, flag_key)
            if await _active(tx, flag_set_id, flag_key):
                raise FailedPrecondition(
                    f"flag {flag_key!r} already has a rollout running or paused",
                    reason="ROLLOUT_ACTIVE",
                )
            _check_against_flag(steps, definition)
            rollout = Rollout(
                id=secrets.token_hex(8),
                flag_set_id=flag_set_id,
                flag_key=flag_key,
                steps=tuple(steps),
                state=RolloutState.RUNNING,
                applied_steps=0,
                next_step_at=tx.now + timedelta(seconds=steps[0].wait_seconds),
                remaining_seconds=None,
                author=by.author,
                created_at=tx.now,
                updated_at=tx.now,
            )
            await tx.conn.execute(insert(rollouts).values(_row(rollout)))
            if steps[0].wait_seconds == 0:
                rollout = await self._apply(tx, rollout)
        if rollout.applied_steps:
            self._stepped()
        return rollout

    async def get(self, rollout_id: str) -> Rollout:
        async with self._store.engine.connect() as conn:
            row = (await conn.execute(select(rollouts).where(rollouts.c.id == rollout_id))).first()
        if row is None:
            raise NotFound(f"no rollout {rollout_id!r}", reason="ROLLOUT_NOT_FOUND")
        return rollout_of(row._mapping)

    async def list_rollouts(self, flag_set_id: str = "") -> list[Rollout]:
        query = select(rollouts).order_by(rollouts.c.created_at.desc(), rollouts.c.id)
        if flag_set_id:
            query = query.where(rollouts.c.flag_set == flag_set_id)
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [rollout_of(row._mapping) for row in rows]

    async def pause(self, rollout_id: str) -> Rollout:
        def paused(rollout: Rollout, now: datetime) -> Rollout:
            assert rollout.next_step_at is not None
            left = max(0.0, (rollout.next_step_at - now).total_seconds())
            return replace(
                rollout, state=RolloutState.PAUSED, next_step_at=None, remaining_seconds=left
            )

        return await self._transition(rollout_id, (RolloutState.RUNNING,), paused)

    async def resume(self, rollout_id: str) -> Rollout:
        def resumed(rollout: Rollout, now: datetime) -> Rollout:
            due = now + timedelta(seconds=rollout.remaining_seconds or 0.0)
            return replace(
                rollout, state=RolloutState.RUNNING, next_step_at=due, remaining_seconds=None
            )

        return await self._transition(rollout_id, (RolloutState.PAUSED,), resumed)

    async def cancel(self, rollout_id: str) -> Rollout:
        def cancelled(rollout: Rollout, now: datetime) -> Rollout:
            return replace(rollout, state=RolloutState.CANCELLED, next_step_at=None)

        return await self._transition(
            rollout_id, (RolloutState.RUNNING, RolloutState.PAUSED), cancelled
        )

    async def advance(self) -> int:
        """Applies every step due now; returns how many were applied."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        query = select(rollouts.c.id).where(
            rollouts.c.state == RolloutState.RUNNING.value, rollouts.c.next_step_at <= now
        )
        async with self._store.engine.connect() as conn:
            due = list((await conn.execute(query)).scalars())
        applied = 0
        for rollout_id in due:
            while await self._step_if_due(rollout_id):
                applied += 1
        return applied

    async def run(self, interval_seconds: float) -> None:
        """`advance()` every `interval_seconds` until cancelled."""
        healthy = True
        while True:
            try:
                await self.advance()
            except Exception:  # the database is away: try again next tick, say so once
                if healthy:
                    log.warning("could not advance rollouts", exc_info=True)
                healthy = False
            else:
                healthy = True
            await asyncio.sleep(interval_seconds)

    async def _step_if_due(self, rollout_id: str) -> bool:
        async with self._store.transaction() as tx:
            rollout = await _locked(tx, rollout_id)
            due = rollout.next_step_at is not None and rollout.next_step_at <= tx.now
            if rollout.state is not RolloutState.RUNNING or not due:
                return False
            after = await self._apply(tx, rollout)
        stepped = after.applied_steps > rollout.applied_steps  # False: the rollout failed
        if stepped:
            self._stepped()
        return stepped

    async def _apply(self, tx: WriteTransaction, rollout: Rollout) -> Rollout:
        """Applies the next step in `tx`, or fails the rollout with the reason."""
        number = rollout.applied_steps
        step = rollout.steps[number]
        try:
            stored = await tx.current(rollout.flag_set_id)
            definition = await _flag(tx, rollout.flag_set_id, rollout.flag_key)
            updated = with_weights(definition, step.weights)
        except ServiceError as exc:
            failed = replace(
                rollout, state=RolloutState.FAILED, next_step_at=None, failure=exc.message
            )
            return await _save(tx, failed)
        assert stored is not None
        shares = ", ".join(f"{name} {weight}" for name, weight in step.weights.items())
        message = f"rollout {rollout.id}: step {number + 1} of {len(rollout.steps)}: {shares}"
        revision, _ = await tx.record(
            rollout.flag_set_id,
            stored,
            stored.document.with_flag(rollout.flag_key, updated),
            RevisionKind.ROLLOUT_STEP,
            Authorship(rollout.author, message),
        )
        last = number + 1 == len(rollout.steps)
        advanced = replace(
            rollout,
            applied_steps=number + 1,
            state=RolloutState.COMPLETED if last else RolloutState.RUNNING,
            next_step_at=None
            if last
            else tx.now + timedelta(seconds=rollout.steps[number + 1].wait_seconds),
            revisions=(*rollout.revisions, revision.id),
        )
        return await _save(tx, advanced)

    def _stepped(self) -> None:
        """A step was applied and committed."""
        if self._on_step is not None:
            self._on_step()

    async def _transition(
        self,
        rollout_id: str,
        allowed: tuple[RolloutState, ...],
        change: Callable[[Rollout, datetime], Rollout],
    ) -> Rollout:
        async with self._store.transaction() as tx:
            rollout = await _locked(tx, rollout_id)
            if rollout.state not in allowed:
                raise FailedPrecondition(
                    f"rollout {rollout_id} is {rollout.state.value.lower()}",
                    reason="ROLLOUT_STATE",
                )
            return await _save(tx, change(rollout, tx.now))


def _check_against_flag(steps: Sequence[RolloutStep], definition: Mapping[str, Any]) -> None:
    variants = set(definition["variants"])
    split = split_variants(definition)
    v = Violations()
    for index, step in enumerate(steps):
        path = f"steps[{index}].weights"
        unknown = sorted(set(step.weights) - variants)
        v.check(not unknown, path, f"not variants of the flag: {', '.join(unknown)}")
        missing = sorted(set(split) - set(step.weights))
        v.check(not missing, path, f"must weigh every variant of the split: {', '.join(missing)}")
    v.raise_if_any()


async def _flag(tx: WriteTransaction, flag_set_id: str, flag_key: str) -> dict[str, Any]:
    stored = await tx.current(flag_set_id)
    if stored is None:
        raise NotFound(f"no flag set {flag_set_id!r}", reason="FLAG_SET_NOT_FOUND")
    definition = stored.document.flag(flag_key)
    if definition is None:
        raise NotFound(
            f"flag set {flag_set_id!r} has no flag {flag_key!r}", reason="FLAG_NOT_FOUND"
        )
    return definition


async def _active(tx: WriteTransaction, flag_set_id: str, flag_key: str) -> bool:
    query = select(rollouts.c.id).where(
        rollouts.c.flag_set == flag_set_id,
        rollouts.c.flag_key == flag_key,
        rollouts.c.state.in_(ACTIVE),
    )
    return (await tx.conn.execute(query)).first() is not None


async def _locked(tx: WriteTransaction, rollout_id: str) -> Rollout:
    row = (await tx.conn.execute(select(rollouts).where(rollouts.c.id == rollout_id))).first()
    if row is None:
        raise NotFound(f"no rollout {rollout_id!r}", reason="ROLLOUT_NOT_FOUND")
    return rollout_of(row._mapping)


async def _save(tx: WriteTransaction, rollout: Rollout) -> Rollout:
    saved = replace(rollout, updated_at=tx.now)
    values = _row(saved)
    del values["id"]
    await tx.conn.execute(update(rollouts).where(rollouts.c.id == rollout.id).values(values))
    return saved


def _row(rollout: Rollout) -> dict[str, Any]:
    steps = [{"weights": dict(s.weights), "wait": s.wait_seconds} for s in rollout.steps]
    return {
        "id": rollout.id,
        "flag_set": rollout.flag_set_id,
        "flag_key": rollout.flag_key,
        "steps": json.dumps(steps),
        "state": rollout.state.value,
        "applied_steps": rollout.applied_steps,
        "next_step_at": rollout.next_step_at,
        "remaining_seconds": rollout.remaining_seconds,
        "author": rollout.author,
        "created_at": rollout.created_at,
        "updated_at": rollout.updated_at,
        "revisions": json.dumps(list(rollout.revisions)),
        "failure": rollout.failure,
    }


def rollout_of(row: RowMapping) -> Rollout:
    steps = tuple(
        RolloutStep(weights=dict(s["weights"]), wait_seconds=float(s["wait"]))
        for s in json.loads(row["steps"])
    )
    next_step_at = row["next_step_at"]
    return Rollout(
        id=row["id"],
        flag_set_id=row["flag_set"],
        flag_key=row["flag_key"],
        steps=steps,
        state=RolloutState(row["state"]),
        applied_steps=int(row["applied_steps"]),
        next_step_at=None if next_step_at is None else as_utc(next_step_at),
        remaining_seconds=row["remaining_seconds"],
        author=row["author"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        revisions=tuple(json.loads(row["revisions"])),
        failure=row["failure"],
    )


__all__ = ["Rollout", "RolloutState", "RolloutStep", "Rollouts", "check_steps"]
