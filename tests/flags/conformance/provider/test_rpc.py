"""The testbed's gherkin/ scenarios with the flagd provider in RPC mode against our service
(flagd.evaluation.v2 and its EventStream)."""

from __future__ import annotations

import pytest
from pytest_bdd import scenarios

from ..testbed import TESTBED, require_testbed

MODE = "rpc"
pytestmark = pytest.mark.slow

if (TESTBED / "gherkin").is_dir():
    scenarios(str(TESTBED / "gherkin"))
else:

    def test_the_testbed_is_there() -> None:
        require_testbed()
