"""An in-process cache of overrides, so a quota check is one Redis round trip.

Overrides are admin data that changes rarely, yet every check needs its subjects' overrides
before it can name its limits. Reading them from Redis would double the round trips of the hot
path; this cache keeps each subject's answer, including "no override", for up to `ttl` seconds.

Changes reach every replica quickly without a second round trip: the store counts every change
of any override in a version number that each admission reads in the same script, and the
cache forgets everything when it sees the version move. So a replica that sets or deletes an
override applies it at once, and any other replica from the check after its next one; `ttl`
(`RATELIMIT_OVERRIDE_CACHE_SECONDS`, 10 s by default; 0 turns the cache off) only bounds
staleness should that signal be missed. Expiry of an override itself is exact: a cached
override is checked against `now`.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import QuotaStore
from services.ratelimit.windows import Clock

MAX_ENTRIES = 100_000


class OverrideCache:
    """Reads overrides through `store`, remembering each answer for `ttl` seconds."""

    def __init__(self, store: QuotaStore, ttl: float, clock: Clock) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Override | None]] = {}
        self._version: int | None = None

    async def overrides(self, subjects: Sequence[str], now: float) -> list[Override | None]:
        if self._ttl <= 0:
            return await self._store.overrides(subjects, now)
        fresh_until = self._clock()
        found = {s: e[1] for s in subjects if (e := self._entries.get(s)) and e[0] > fresh_until}
        missing = [s for s in subjects if s not in found]
        if missing:
            loaded = await self._store.overrides(missing, now)
            self._remember(missing, loaded)
            found.update(zip(missing, loaded, strict=True))
        return [_live(found[s], now) for s in subjects]

    def cached(self, subjects: Sequence[str], now: float) -> list[Override | None] | None:
        """The overrides when every subject's answer is cached and fresh, else None.

        The usual case of a check, answered without a coroutine."""
        if self._ttl <= 0:
            return None
        fresh_until = self._clock()
        found: list[Override | None] = []
        for subject in subjects:
            entry = self._entries.get(subject)
            if entry is None or entry[0] <= fresh_until:
                return None
            found.append(_live(entry[1], now))
        return found

    def forget(self, subject: str) -> None:
        self._entries.pop(subject, None)

    def observe(self, version: int) -> None:
        """The store's overrides version, as read by an admission: a move empties the cache."""
        if version != self._version:
            self._entries.clear()
            self._version = version

    def _remember(self, subjects: Sequence[str], overrides: Sequence[Override | None]) -> None:
        if len(self._entries) + len(subjects) > MAX_ENTRIES:
            self._entries.clear()
        until = self._clock() + self._ttl
        for subject, override in zip(subjects, overrides, strict=True):
            self._entries[subject] = (until, override)


def _live(override: Override | None, now: float) -> Override | None:
    return override if override is not None and override.live(now) else None
