"""Request validation: every bad field reported at once, the reference's texts kept."""

from __future__ import annotations

import pytest

from services.ratelimit.envoy.request import (
    MAX_DESCRIPTORS,
    MAX_ENTRIES,
    MAX_TEXT_BYTES,
    Descriptor,
    Entry,
    Override,
    RateLimitRequest,
    validate_request,
)
from svckit.errors import InvalidArgument

from .harness import descriptor, request


def violations(req: RateLimitRequest) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as caught:
        validate_request(req)
    return [(v.field, v.description) for v in caught.value.violations]


def test_a_good_request_passes() -> None:
    validate_request(request("d", descriptor(("k", "")), hits_addend=5))


def test_every_problem_is_reported_with_its_field() -> None:
    found = violations(
        RateLimitRequest(
            "",
            (
                Descriptor(()),
                Descriptor((Entry("", "v"),), Override(1, 0), hits_addend=2**32),
            ),
        )
    )
    assert found == [
        ("domain", "rate limit domain must not be empty"),
        ("descriptors[0].entries", "must not be empty"),
        ("descriptors[1].entries[0].key", "must not be empty"),
        ("descriptors[1].limit.unit", "must be a known rate limit unit"),
        ("descriptors[1].hits_addend", "must be at most 4294967295"),
    ]


def test_message_keeps_reference_texts_and_names_nested_fields() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_request(RateLimitRequest("", (Descriptor(()),)))
    assert caught.value.message == (
        "rate limit domain must not be empty; descriptors[0].entries: must not be empty"
    )


def test_size_bounds() -> None:
    big = "x" * (MAX_TEXT_BYTES + 1)
    too_many_entries = Descriptor(tuple(Entry("k", "v") for _ in range(MAX_ENTRIES + 1)))
    found = violations(
        RateLimitRequest(
            big,
            (descriptor((big, "v")), descriptor(("k", big)), too_many_entries)
            + (descriptor(("k", "v")),) * MAX_DESCRIPTORS,
        )
    )
    assert [field for field, _ in found] == [
        "domain",
        "descriptors",
        "descriptors[0].entries[0].key",
        "descriptors[1].entries[0].value",
        "descriptors[2].entries",
    ]


def test_bounds_count_utf8_bytes() -> None:
    validate_request(request("d", descriptor(("k", "é" * (MAX_TEXT_BYTES // 2)))))
    assert violations(request("d", descriptor(("k", "é" * (MAX_TEXT_BYTES // 2 + 1))))) == [
        ("descriptors[0].entries[0].value", f"must be at most {MAX_TEXT_BYTES} bytes")
    ]


@pytest.mark.parametrize(
    ("request_hits", "descriptor_hits", "expected"),
    [(0, None, 1), (7, None, 7), (7, 0, 0), (0, 3, 3)],
)
def test_hits_for(request_hits: int, descriptor_hits: int | None, expected: int) -> None:
    item = descriptor(("k", "v"), hits=descriptor_hits)
    assert request("d", item, hits_addend=request_hits).hits_for(item) == expected
