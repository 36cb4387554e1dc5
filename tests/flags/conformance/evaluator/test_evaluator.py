"""The testbed's evaluator/gherkin/ scenarios against our store and engine."""

from __future__ import annotations

from pytest_bdd import scenarios

from ..testbed import TESTBED, require_testbed

MODE = "evaluator"

if (TESTBED / "evaluator" / "gherkin").is_dir():
    scenarios(str(TESTBED / "evaluator" / "gherkin"))
else:

    def test_the_testbed_is_there() -> None:
        require_testbed()
