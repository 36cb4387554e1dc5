"""Exposure counts: how many times each variant of a flag was served, per UTC day.

Whoever evaluates reports what it served (`RecordExposures`): the gateway, which evaluates in
process for its A/B experiments, sends its counts in batches. Remote evaluations answered by
this service are counted in its metrics (`flags_evaluations_total`) as well. A batch is one
upsert per (flag, variant, day); counts only grow.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.flags.tables import exposures
from services.flags.validation import FLAG_KEY
from svckit.errors import Violations

MAX_BATCH = 1000


@dataclass(frozen=True)
class Exposure:
    flag_key: str
    variant: str
    count: int


def check_exposures(items: list[Exposure]) -> None:
    v = Violations()
    v.check(0 < len(items) <= MAX_BATCH, "exposures", f"must hold 1 to {MAX_BATCH} counts")
    for index, item in enumerate(items):
        path = f"exposures[{index}]"
        v.check(bool(FLAG_KEY.match(item.flag_key)), f"{path}.flag_key", "is not a flag key")
        v.check(0 < len(item.variant) <= 200, f"{path}.variant", "must be 1-200 characters")
        v.check(item.count > 0, f"{path}.count", "must be at least 1")
    v.raise_if_any()


class ExposureCounts:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def record(self, items: Iterable[Exposure]) -> None:
        day = self.today()
        totals: Counter[tuple[str, str]] = Counter()
        for item in items:
            totals[(item.flag_key, item.variant)] += item.count
        rows = [
            {"flag_key": key, "variant": variant, "day": day, "count": count}
            for (key, variant), count in sorted(totals.items())
        ]
        if not rows:
            return
        async with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(exposures).values(rows)
            statement = statement.on_conflict_do_update(
                index_elements=["flag_key", "variant", "day"],
                set_={"count": exposures.c.count + statement.excluded.count},
            )
            await conn.execute(statement)

    async def totals(self, flag_key: str, since: date) -> dict[str, int]:
        query = (
            select(exposures.c.variant, func.sum(exposures.c.count))
            .where(exposures.c.flag_key == flag_key, exposures.c.day >= since)
            .group_by(exposures.c.variant)
            .order_by(exposures.c.variant)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {variant: int(total) for variant, total in rows}

    def today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()


__all__ = ["Exposure", "ExposureCounts", "check_exposures"]
