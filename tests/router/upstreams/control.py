"""What a test tells a fake upstream to do, and what the fake saw.

One `FakeUpstreamControl` belongs to one fake server; the test changes it between (or during)
calls. Failures are drawn first from the queue filled by `fail_next`, then from `failure_rate`
with the control's own seeded rng, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

WAIT_BOUND_SECONDS = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    """Lower-cased names, as received."""
    body: Any


@dataclass(frozen=True)
class InjectedFailure:
    status: int
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected failure"


@dataclass
class FakeUpstreamControl:
    seed: int = 0
    failure_rate: float = 0.0
    failure_status: int = 503
    latency_seconds: float = 0.0
    """Real delay before answering: keep it to a few milliseconds in tests."""
    hang: bool = False
    """Never answer; the request ends when the client gives up (counted in `disconnects`)."""
    malformed: Literal["", "json", "shape"] = ""
    """A 200 whose body is not JSON, or JSON of the wrong shape (streams: the first event)."""
    drop_stream_after: int | None = None
    """Events sent before the connection is dropped without finishing the body."""
    hold_stream_after: int | None = None
    """Events sent before the stream stalls until the client goes away."""
    stream_error_after: int | None = None
    """Events sent before an in-stream error event ends the stream."""
    ignore_include_usage: bool = False
    """OpenAI only: end streams without the usage chunk, as some compatible servers do."""
    usage_on_last_chunk: bool = False
    """OpenAI only: the last content chunk carries the finish reason and the usage, with no
    finish or usage chunk of its own, as some compatible servers do."""
    omit_stream_end: bool = False
    """End the body cleanly but without [DONE] / message_stop."""
    require_key: str | None = None
    """When set, any other key gets a 401 that echoes the key presented, as some APIs do."""
    echo_key_in_errors: bool = False
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    """Anthropic only: reported as cache_creation_input_tokens."""
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0
    """Requests and streams the client abandoned before the answer was complete."""
    rng: random.Random = field(init=False)
    _failures: deque[InjectedFailure] = field(default_factory=deque)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: str | None = None,
        headers: dict[str, str] | None = None,
        message: str = "injected failure",
    ) -> None:
        failure = InjectedFailure(status, retry_after, dict(headers or {}), message)
        self._failures.extend([failure] * count)

    def next_failure(self) -> InjectedFailure | None:
        if self._failures:
            return self._failures.popleft()
        if self.failure_rate > 0 and self.rng.random() < self.failure_rate:
            return InjectedFailure(self.failure_status)
        return None

    def note_disconnect(self) -> None:
        self.disconnects += 1
        self._changed.set()

    async def wait_for_disconnects(self, count: int) -> None:
        """Until the server has seen `count` abandoned requests; the bound only stops a broken
        test from hanging, it is not what the test measures."""
        async with asyncio.timeout(WAIT_BOUND_SECONDS):
            while self.disconnects < count:
                self._changed.clear()
                await self._changed.wait()

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]
