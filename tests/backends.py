"""Whether a test may skip for want of a real backend: locally yes, in CI never."""

from __future__ import annotations

import os

import pytest


def backends_required() -> bool:
    return os.environ.get("SWITCHBOARD_REQUIRE_BACKENDS", "") in {"1", "true", "yes"}


def missing_backend(reason: str) -> None:
    """Skip the test, or fail it when real backends are required."""
    if backends_required():
        pytest.fail(f"{reason} (SWITCHBOARD_REQUIRE_BACKENDS=1)")
    pytest.skip(reason)
