"""The testbed's gherkin/ scenarios with the flagd provider in in-process mode against our
service (flagd.sync.v1: it evaluates locally what our sync stream sends)."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

from ..testbed import TESTBED, require_testbed

MODE = "in-process"
pytestmark = pytest.mark.slow

if (TESTBED / "gherkin").is_dir():
    scenarios(str(TESTBED / "gherkin"))
else:

    def test_the_testbed_is_there() -> None:
        require_testbed()
