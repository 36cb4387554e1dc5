"""Step definitions of the testbed's evaluator/gherkin/ scenarios (the engine-level suite, which
flagd's own openfeature-flagd-api-testkit runs against an `Evaluator`), re-implemented against
our store and engine: `evaluator/flags/testkit-flags.json` goes through our validation into our
SQL store as a revision, and "an evaluator" is the service's `Evaluator` over the snapshot read
back from the store, exactly what the flagd protocols answer from. The testkit package itself is
not on PyPI; its steps are small.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from services.flags import edits
from services.flags.database import create_engine, migrate
from services.flags.evaluation import Evaluator, ValueKind
from services.flags.revision import Authorship, RevisionKind
from services.flags.snapshot import Snapshot
from services.flags.store import FlagStore
from services.flags.validation import parse_document
from svckit.errors import ServiceError

from ..testbed import require_testbed

KINDS = {
    "Boolean": ValueKind.BOOLEAN,
    "String": ValueKind.STRING,
    "Integer": ValueKind.INTEGER,
    "Float": ValueKind.FLOAT,
    "Object": ValueKind.OBJECT,
}


def _object(text: str) -> Any:
    # Examples tables escape the quotes of JSON values (\").
    return json.loads(text.replace('\\"', '"'))


VALUE_TYPES: dict[str, Callable[[str], Any]] = {
    "Integer": int,
    "Float": float,
    "String": str,
    "Boolean": lambda v: v.lower() in ("yes", "true", "t", "1"),
    "Object": _object,
}


@dataclass
class Outcome:
    value: Any
    reason: str
    variant: str | None = None
    error_code: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


async def _load(text: str, database: Path) -> Snapshot:
    url = f"sqlite+aiosqlite:///{database}"
    await migrate(url)
    engine = create_engine(url)
    try:
        store = FlagStore(engine)
        document, findings = parse_document(text)
        assert document is not None, findings.errors
        await store.write(
            "testkit",
            edits.replace(document),
            kind=RevisionKind.SOURCE_FILE,
            by=Authorship("testkit"),
        )
        return await store.snapshot()
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def testkit_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    flags = require_testbed() / "evaluator" / "flags" / "testkit-flags.json"
    database = tmp_path_factory.mktemp("testkit") / "flags.sqlite3"
    return asyncio.run(_load(flags.read_text(), database))


@pytest.fixture
def context() -> dict[str, Any]:
    return {}


@given("an evaluator", target_fixture="evaluator")
def an_evaluator(testkit_snapshot: Snapshot) -> Evaluator:
    return Evaluator(lambda: testkit_snapshot, {})


@given(
    parsers.re(
        r'a (?P<kind>\w+)-flag with key "(?P<key>[^"]*)" and a fallback value "(?P<default>.*)"'
    ),
    target_fixture="flag",
)
def flag_with_fallback(kind: str, key: str, default: str) -> tuple[str, Any, str]:
    return key, VALUE_TYPES[kind](default), kind


@given(parsers.cfparse('a context containing a targeting key with value "{targeting_key}"'))
def context_targeting_key(context: dict[str, Any], targeting_key: str) -> None:
    context["targetingKey"] = targeting_key


@given(
    parsers.re(
        r'a context containing a key "(?P<key>[^"]+)", with type "(?P<kind>[^"]+)" '
        r'and with value "(?P<value>.*)"'
    )
)
def context_value(context: dict[str, Any], key: str, kind: str, value: str) -> None:
    context[key] = VALUE_TYPES[kind](value)


@given(
    parsers.re(
        r'a context containing a nested property with outer key "(?P<outer>[^"]+)" and '
        r'inner key "(?P<inner>[^"]+)", with value "(?P<value>.*)"'
    )
)
def context_nested(context: dict[str, Any], outer: str, inner: str, value: str) -> None:
    context.setdefault(outer, {})[inner] = value


@when("the flag was evaluated with details", target_fixture="outcome")
def evaluate(evaluator: Evaluator, flag: tuple[str, Any, str], context: dict[str, Any]) -> Outcome:
    key, default, kind = flag
    try:
        resolved = evaluator.resolve(key, KINDS[kind], context)
    except ServiceError as error:  # the flagd error code is the error's reason
        return Outcome(default, "ERROR", error_code=error.reason)
    value = default if resolved.variant is None else resolved.value
    return Outcome(value, resolved.reason, resolved.variant, None, dict(resolved.metadata))


@then(parsers.re(r'the resolved details value should be "(?P<value>.*)"'))
def details_value(outcome: Outcome, flag: tuple[str, Any, str], value: str) -> None:
    assert outcome.value == VALUE_TYPES[flag[2]](value)


@then(parsers.cfparse('the reason should be "{reason}"'))
def details_reason(outcome: Outcome, reason: str) -> None:
    assert outcome.reason == reason


@then(parsers.re(r'the error-code should be "(?P<code>[^"]*)"'))
def details_error_code(outcome: Outcome, code: str) -> None:
    assert outcome.error_code == (code or None)


@then("the resolved metadata should contain")
def metadata_contains(outcome: Outcome, datatable: list[list[str]]) -> None:
    rows = datatable[1:]
    assert len(outcome.metadata) == len(rows)
    for key, kind, value in rows:
        assert outcome.metadata[key] == VALUE_TYPES[kind](value)


@then("the resolved metadata is empty")
def metadata_empty(outcome: Outcome) -> None:
    assert outcome.metadata == {}
