"""What flagd's two streams send, as async generators the servicers relay.

- `flag_events` (EventStream of flagd.evaluation.v1/v2): `provider_ready` at once; then, on
  every change visible to the caller's selector, `configuration_change` with flagd's body
  `{"flags": {"<key>": {"type": "write" | "update" | "delete"}}}` (the RPC provider evicts
  those keys from its cache); `keep_alive` after `keepalive_seconds` without other traffic;
  `provider_shutdown` when the server drains.
- `flag_snapshots` (SyncFlags of flagd.sync.v1): the selected flags at once, then a full new
  snapshot whenever what the selector sees changes (in-process providers replace their whole
  flag store with each message). A change elsewhere sends nothing.

Both take the watch before reading the snapshot, so a change landing in between still wakes
them: nothing is missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from services.flags.document import same_json
from services.flags.selector import Selector
from services.flags.state import FlagState

PROVIDER_READY = "provider_ready"
CONFIGURATION_CHANGE = "configuration_change"
KEEP_ALIVE = "keep_alive"
PROVIDER_SHUTDOWN = "provider_shutdown"


@dataclass(frozen=True)
class FlagEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


async def flag_events(
    state: FlagState, selector: Selector, keepalive_seconds: float
) -> AsyncIterator[FlagEvent]:
    async with state.watch() as watch:
        view = state.snapshot.view(selector)
        yield FlagEvent(PROVIDER_READY)
        while not watch.closed:
            woken = await watch.wait(keepalive_seconds)
            if watch.closed:
                break
            if not woken:
                yield FlagEvent(KEEP_ALIVE)
                continue
            latest = state.snapshot.view(selector)
            changes = latest.changes_since(view)
            view = latest
            if changes:
                flags = {key: {"type": change} for key, change in changes.items()}
                yield FlagEvent(CONFIGURATION_CHANGE, {"flags": flags})
        yield FlagEvent(PROVIDER_SHUTDOWN)


async def flag_snapshots(state: FlagState, selector: Selector) -> AsyncIterator[str]:
    async with state.watch() as watch:
        view = state.snapshot.view(selector)
        yield view.payload
        while not watch.closed:
            await watch.wait(None)
            latest = state.snapshot.view(selector)
            if not watch.closed and not same_json(latest.flags, view.flags):
                view = latest
                yield view.payload


__all__ = ["FlagEvent", "flag_events", "flag_snapshots"]
