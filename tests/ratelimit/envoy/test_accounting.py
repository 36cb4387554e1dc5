"""Near-limit thresholds in the reference's float32 arithmetic."""

from __future__ import annotations

import math

import pytest

from services.ratelimit.envoy.accounting import near_threshold


@pytest.mark.parametrize(
    ("limit", "ratio", "threshold"),
    [(20, 0.8, 16), (8, 0.8, 6), (15, 0.8, 12), (10, 0.8, 8), (0, 0.8, 0), (5, 0.5, 2)],
)
def test_near_threshold(limit: int, ratio: float, threshold: int) -> None:
    assert near_threshold(limit, ratio) == threshold


def test_float32_rounding_differs_from_float64() -> None:
    # In float64, 90 * 0.7 is 62.99999999999999 and floors to 62; the reference multiplies in
    # float32, where the product rounds to 63.0.
    assert math.floor(90 * 0.7) == 62
    assert near_threshold(90, 0.7) == 63
