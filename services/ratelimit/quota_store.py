"""The quota store protocol: where counters, reservations and overrides live.

Two implementations share it: `MemoryQuotaStore` (the embedded default) and `RedisQuotaStore`
(production, shared by every replica). The limiter decides *what* to count and *when* (every
method takes the `now` of the limiter's injected clock); the store makes each decision atomic:

- `admit` checks every charge against its limit and, only when all admit, adds all of them and
  records the reservation, in one indivisible step;
- `settle` moves a reservation out of its reserved state at most once, adjusting the counters it
  charged, in one indivisible step.

A store whose backend cannot be reached raises `services.ratelimit.backend.BackendUnavailable`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.ratelimit.limits import CounterKey
from services.ratelimit.overrides import Override


@dataclass(frozen=True)
class Charge:
    """What a call adds to one counter, and the limit that counter must stay within."""

    counter: CounterKey
    amount: int
    limit: int


@dataclass(frozen=True)
class Reservation:
    """An admitted call's charges, kept so they can be adjusted (commit) or returned (release)."""

    id: str
    tokens: int
    """The estimate that the token charges reserved."""
    charges: tuple[Charge, ...]
    expire_time: float
    """Until then the reservation can be settled; afterwards its charges simply stay counted."""


@dataclass(frozen=True)
class Admission:
    """Whether every charge fitted, and each counter's count before the call, in charge order."""

    admitted: bool
    counts: tuple[int, ...]
    overrides_version: int = 0
    """Changes whenever any subject's override changes; 0 where every read is fresh anyway."""


class ReservationState(enum.Enum):
    RESERVED = "reserved"
    COMMITTED = "committed"
    RELEASED = "released"


@dataclass(frozen=True)
class Settlement:
    """How to end a reservation: commit the tokens used, or release it (`actual_tokens` None).

    A settled reservation is remembered until `remember_until`, so a repeated request gets the
    same answer instead of NOT_FOUND.
    """

    reservation_id: str
    actual_tokens: int | None
    now: float
    remember_until: float


@dataclass(frozen=True)
class SettledReservation:
    """A reservation's state after `settle`: changed by it, or as an earlier settle left it."""

    state: ReservationState
    reserved_tokens: int
    actual_tokens: int | None


class QuotaStore(Protocol):
    async def admit(self, reservation: Reservation, now: float) -> Admission:
        """Counts every charge and records the reservation if all admit; else changes nothing."""
        ...

    async def counts(self, counters: Sequence[CounterKey], now: float) -> list[int]:
        """The current value of each counter (0 when it does not exist), changing nothing."""
        ...

    async def settle(self, settlement: Settlement) -> SettledReservation | None:
        """Commits or releases a reserved reservation; None when unknown or expired.

        Only a RESERVED reservation changes. Committing adds `actual - estimate` to each of its
        token counters; releasing subtracts every charge. Either way a counter never goes below
        0, and a counter whose window has ended or which was reset is left alone. A reservation
        already settled is returned unchanged, for the caller to tell a repeat from a conflict.
        """
        ...

    async def reset(self, subject: str, now: float) -> int:
        """Deletes every counter of the subject (all windows and models); returns how many."""
        ...

    async def put_override(self, override: Override, now: float) -> None:
        """Stores the subject's override, replacing any other."""
        ...

    async def overrides(self, subjects: Sequence[str], now: float) -> list[Override | None]:
        """Each subject's live override (None when it has none or it has expired)."""
        ...

    async def delete_override(self, subject: str, now: float) -> bool:
        """Removes the subject's override; False when it had no live one."""
        ...
