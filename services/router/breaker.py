"""Circuit breakers: stop sending calls to a deployment that keeps failing, and probe it back.

One breaker per deployment name, shared by every router replica through its store (Redis in
production, memory in the embedded mode). `CircuitBreakers` is the facade the router uses:
`acquire` before a call (None means "open: skip this deployment"), `record` after it.

States and transitions (the `BreakerPolicy` fields are named in brackets):

- CLOSED: calls pass. Each reported result is counted in a sliding window of `window_buckets`
  buckets spanning `window_seconds` (a bucket drops out whole, so the window covers between
  `window_seconds - bucket` and `window_seconds` of history). The breaker OPENS when the window
  holds at least [min_calls] calls and failures / calls >= [failure_rate_threshold], or when
  [consecutive_failures] failures came in a row (a success resets that count). The rate rule
  catches a deployment that fails often; the streak rule catches one that went down while
  traffic is too thin to fill the window.
- OPEN: calls are refused until [open_seconds] have passed since it opened (`retry_at`). Then
  the next acquirer moves it to HALF_OPEN and gets a probe permit.
- HALF_OPEN: at most [half_open_max_probes] probe permits are out at once, across all
  replicas; other callers are refused. [half_open_successes] probe successes CLOSE it (with an
  empty window); one probe failure OPENS it again with a fresh cool-down. A probe nobody reports
  (its caller crashed) expires after [probe_timeout_seconds], freeing its slot; its late report
  is ignored.

A call whose caller went away (cancelled) gives no verdict: its permit is handed back with
`release`, which frees a probe's slot at once and counts nothing. Counting it as a success would
let a deployment that hangs past every caller's deadline close its breaker; as a failure, a
caller's short deadline would open a healthy one.

Every transition starts a new epoch, and a permit remembers the epoch it was issued in. A result
reported in a later epoch is ignored: a call that started before the breaker opened says nothing
about the deployment after a probe closed it again, and results reported while OPEN must not
stretch the cool-down.

Decisions are made by the store, atomically (one Lua script per transition in Redis), so all
replicas agree exactly: for instance, only `half_open_max_probes` of any number of concurrent
acquirers get a probe. Time comes from the injected clock and reaches the store as `now`; it is
wall-clock time shared across replicas, so their clocks should be synchronised (NTP): a skew
shifts a replica's view of cool-downs by the skew. Replicas must share one policy.

The breaker never blocks traffic on its own failure: when the store is unreachable, `acquire`
grants an untracked permit (as if CLOSED), `record` drops the result, a warning is logged at most
once per `warn_interval_seconds`, errors are counted, and the store is left alone for
`store_retry_seconds` so that calls do not each wait for a dead Redis.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.router.breaker_metrics import BreakerMetrics

log = logging.getLogger(__name__)


class BreakerState(enum.IntEnum):
    """The values are what the `router_circuit_state` gauge shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    window_seconds: float = 30.0
    window_buckets: int = 10
    """The window slides one bucket (window_seconds / window_buckets) at a time."""
    min_calls: int = 10
    failure_rate_threshold: float = 0.5
    consecutive_failures: int = 5
    open_seconds: float = 15.0
    """Cool-down: how long an opened breaker refuses calls before it lets a probe through."""
    half_open_max_probes: int = 1
    """Probes in flight at once, across all replicas."""
    half_open_successes: int = 1
    """Probe successes needed to close."""
    probe_timeout_seconds: float = 30.0
    """After this a probe that was never reported no longer holds its slot."""

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("window_seconds", self.window_seconds > 0),
                ("window_buckets", self.window_buckets >= 1),
                ("min_calls", self.min_calls >= 1),
                ("failure_rate_threshold", 0 < self.failure_rate_threshold <= 1),
                ("consecutive_failures", self.consecutive_failures >= 1),
                ("open_seconds", self.open_seconds >= 0),
                ("half_open_max_probes", self.half_open_max_probes >= 1),
                ("half_open_successes", self.half_open_successes >= 1),
                ("probe_timeout_seconds", self.probe_timeout_seconds > 0),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"invalid breaker policy: {', '.join(problems)} out of range")

    @property
    def bucket_seconds(self) -> float:
        return self.window_seconds / self.window_buckets

    @property
    def longest_seconds(self) -> float:
        """The longest time any piece of breaker state matters (for store key expiry)."""
        return max(self.window_seconds, self.open_seconds, self.probe_timeout_seconds)


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to call a deployment; hand it back to `CircuitBreakers.record` with the result."""

    deployment: str
    epoch: int
    probe_id: int | None = None
    """Set for a probe permit (HALF_OPEN): its result decides the breaker's next state."""
    tracked: bool = True
    """False when the store was unreachable: the result cannot be recorded."""

    @property
    def is_probe(self) -> bool:
        return self.probe_id is not None


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: BreakerState
    retry_at: float | None = None
    """When OPEN, the end of the cool-down (in the past: the next acquirer probes). When
    HALF_OPEN with every probe slot taken, the earliest probe expiry. Otherwise None."""


CLOSED_SNAPSHOT = BreakerSnapshot(BreakerState.CLOSED)


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What a store operation saw and did."""

    snapshot: BreakerSnapshot
    permit: Permit | None = None
    transitioned: bool = False
    """This operation moved the breaker into `snapshot.state`."""


class BreakerStoreUnavailable(Exception):
    """The store could not be reached; the message names no secret."""


class BreakerStore(Protocol):
    """Keeps breakers and makes each transition atomically (against all replicas)."""

    async def acquire(self, deployment: str, policy: BreakerPolicy, now: float) -> StoreResult:
        """A permit, or none (result.permit is None) when the breaker refuses calls."""
        ...

    async def record(
        self, permit: Permit, success: bool, policy: BreakerPolicy, now: float
    ) -> StoreResult: ...

    async def release(self, permit: Permit, policy: BreakerPolicy, now: float) -> StoreResult:
        """Hand back a permit without a result: a live probe of the current epoch frees its
        slot; nothing is counted and the state does not change."""
        ...

    async def snapshots(
        self, deployments: Sequence[str], policy: BreakerPolicy, now: float
    ) -> dict[str, BreakerSnapshot]:
        """Read-only: no transition happens, not even OPEN to HALF_OPEN."""
        ...


class _StoreFailures:
    """Counts store failures, logs one warning per interval, and says when to try again."""

    def __init__(
        self,
        clock: Callable[[], float],
        metrics: BreakerMetrics | None,
        warn_interval: float,
        retry_after: float,
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._warn_interval = warn_interval
        self._retry_after = retry_after
        self._last_warning = -math.inf
        self._bypass_until = -math.inf

    def bypassing(self) -> bool:
        return self._clock() < self._bypass_until

    def failed(self, operation: str, error: BreakerStoreUnavailable) -> None:
        now = self._clock()
        self._bypass_until = now + self._retry_after
        if self._metrics is not None:
            self._metrics.store_failed(operation)
        if now - self._last_warning >= self._warn_interval:
            self._last_warning = now
            log.warning(
                "circuit breaker store unavailable (%s), letting calls through: %s",
                operation,
                error,
            )


class CircuitBreakers:
    """The router's breakers, one per deployment, over a shared store."""

    def __init__(
        self,
        store: BreakerStore,
        policy: BreakerPolicy = BreakerPolicy(),
        clock: Callable[[], float] = time.time,
        metrics: BreakerMetrics | None = None,
        *,
        warn_interval_seconds: float = 60.0,
        store_retry_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._metrics = metrics
        self._failures = _StoreFailures(clock, metrics, warn_interval_seconds, store_retry_seconds)

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy

    async def acquire(self, deployment: str) -> Permit | None:
        """A permit to call `deployment`, or None while its breaker refuses calls."""
        if self._failures.bypassing():
            return Permit(deployment, epoch=-1, tracked=False)
        try:
            result = await self._store.acquire(deployment, self._policy, self._clock())
        except BreakerStoreUnavailable as exc:
            self._failures.failed("acquire", exc)
            return Permit(deployment, epoch=-1, tracked=False)
        self._observe(deployment, result)
        return result.permit

    async def record(self, permit: Permit, success: bool) -> None:
        """Report the outcome of the call `permit` allowed. Never raises for store failures."""
        if not permit.tracked or self._failures.bypassing():
            return
        try:
            result = await self._store.record(permit, success, self._policy, self._clock())
        except BreakerStoreUnavailable as exc:
            self._failures.failed("record", exc)
            return
        self._observe(permit.deployment, result)

    async def release(self, permit: Permit) -> None:
        """Hand back the permit of a call that gives no verdict (its caller went away).

        Only a probe holds anything in the store, so a plain permit costs no round trip.
        Never raises for store failures."""
        if not permit.tracked or not permit.is_probe or self._failures.bypassing():
            return
        try:
            result = await self._store.release(permit, self._policy, self._clock())
        except BreakerStoreUnavailable as exc:
            self._failures.failed("release", exc)
            return
        self._observe(permit.deployment, result)

    async def snapshot(self, deployment: str) -> BreakerSnapshot:
        return (await self.snapshots([deployment]))[deployment]

    async def snapshots(self, deployments: Iterable[str]) -> dict[str, BreakerSnapshot]:
        """Each deployment's state, as routing sees it; CLOSED while the store is unreachable."""
        names = list(dict.fromkeys(deployments))
        if not names or self._failures.bypassing():
            return dict.fromkeys(names, CLOSED_SNAPSHOT)
        try:
            found = await self._store.snapshots(names, self._policy, self._clock())
        except BreakerStoreUnavailable as exc:
            self._failures.failed("snapshot", exc)
            return dict.fromkeys(names, CLOSED_SNAPSHOT)
        if self._metrics is not None:
            for name, snapshot in found.items():
                self._metrics.observed(name, snapshot.state)
        return found

    def _observe(self, deployment: str, result: StoreResult) -> None:
        if self._metrics is None:
            return
        self._metrics.observed(deployment, result.snapshot.state)
        if result.transitioned:
            self._metrics.transitioned(deployment, result.snapshot.state)
