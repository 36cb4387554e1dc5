"""Bad input: InvalidArgument naming every bad field at once, and the store left untouched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from services.ratelimit.limiter import Limiter
from services.ratelimit.limits import LimitStatus
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import QuotaStore
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import AMOUNT_MAX, TierCatalog
from svckit.errors import InvalidArgument

from .conftest import NOON
from .fake_clock import FakeClock

Call = Callable[[Limiter], Awaitable[object]]

KEY = QuotaSubject("keys/k1", "basic")
LONG = "m" * 201


def subjects(count: int) -> list[QuotaSubject]:
    return [QuotaSubject(f"keys/k{index}", "basic") for index in range(count)]


CASES: list[tuple[str, Call, list[str]]] = [
    ("no subjects", lambda lim: lim.check([], "gpt-4o", 1), ["subjects"]),
    ("nine subjects", lambda lim: lim.check(subjects(9), "", 1), ["subjects"]),
    (
        "duplicate subject",
        lambda lim: lim.check([KEY, QuotaSubject("users/u", "basic"), KEY], "", 1),
        ["subjects[2].name"],
    ),
    (
        "bad subject names",
        lambda lim: lim.check([QuotaSubject("keys/a*", "basic"), QuotaSubject("", "basic")], "", 1),
        ["subjects[0].name", "subjects[1].name"],
    ),
    (
        "unknown and missing tiers",
        lambda lim: lim.check([QuotaSubject("keys/a", "gold"), QuotaSubject("keys/b", "")], "", 1),
        ["subjects[0].tier", "subjects[1].tier"],
    ),
    ("negative tokens", lambda lim: lim.check([KEY], "", -1), ["estimated_tokens"]),
    ("too many tokens", lambda lim: lim.check([KEY], "", AMOUNT_MAX + 1), ["estimated_tokens"]),
    ("oversize model", lambda lim: lim.check([KEY], LONG, 1), ["model"]),
    (
        "everything at once",
        lambda lim: lim.check([*subjects(8), QuotaSubject("keys/k0", "gold")], LONG, -5),
        ["subjects", "subjects[8].name", "subjects[8].tier", "model", "estimated_tokens"],
    ),
    ("empty reservation id", lambda lim: lim.commit("", 1), ["reservation_id"]),
    (
        "oversize reservation id and negative actual",
        lambda lim: lim.commit("r" * 129, -1),
        ["reservation_id", "actual_tokens"],
    ),
    ("release without id", lambda lim: lim.release(""), ["reservation_id"]),
    (
        "usage of nobody",
        lambda lim: lim.usage("nobody", "gold", LONG),
        ["subject", "tier", "model"],
    ),
    ("reset of nobody", lambda lim: lim.reset("keys/"), ["subject"]),
    ("get override of nobody", lambda lim: lim.get_override("x"), ["subject"]),
    ("delete override of nobody", lambda lim: lim.delete_override("x"), ["subject"]),
    (
        "negative override values",
        lambda lim: lim.set_override(Override("keys/k1", -1, 2, -3)),
        ["override.requests_per_day", "override.tokens_per_minute"],
    ),
    (
        "override without limits, subject, reason or future",
        lambda lim: lim.set_override(Override("people/p", reason="x" * 1001, expire_time=NOON)),
        ["override.subject", "override", "override.reason", "override.expire_time"],
    ),
]


class UntouchableStore:
    """Fails the test as soon as the limiter reaches for its store."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was used ({name}) for a bad request")


@pytest.mark.parametrize(
    ("call", "fields"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_names_every_bad_field_and_touches_no_store(
    call: Call, fields: list[str], tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    limiter = Limiter(cast(QuotaStore, UntouchableStore()), tiers, clock=fake_clock)
    with pytest.raises(InvalidArgument) as caught:
        await call(limiter)
    assert [violation.field for violation in caught.value.violations] == fields
    assert all(violation.description for violation in caught.value.violations)


async def snapshot(limiter: Limiter) -> tuple[tuple[LimitStatus, ...], Override]:
    return await limiter.usage("keys/k1", "basic", "gpt-4o"), await limiter.get_override("keys/k1")


@pytest.mark.parametrize(
    ("call", "fields"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_leaves_each_store_unchanged(
    call: Call, fields: list[str], limiter: Limiter
) -> None:
    await limiter.set_override(Override("keys/k1", requests_per_day=50))
    reservation = (await limiter.check([KEY], "gpt-4o", 100)).reservation_id
    before = await snapshot(limiter)
    with pytest.raises(InvalidArgument):
        await call(limiter)
    assert await snapshot(limiter) == before
    assert reservation is not None
    assert (await limiter.commit(reservation, 100)).actual_tokens == 100
