"""Step definitions of the testbed's gherkin/ scenarios, modelled on the flagd provider's own
(python-sdk-contrib tests/e2e/step/*), with the launchpad replaced by `LocalLaunchpad`.

The client is the real OpenFeature SDK with `openfeature-provider-flagd`, in the module's mode,
connected to our service. Provider options are those the provider's steps set (deadline 1 s,
no stream deadline, 1 s retry backoff, 2 s grace period) plus the scenario's own. Waiting for
an event waits on a condition the handlers signal, bounded as the provider's steps bound it
(30 s unless the scenario says "within"): no polling, no sleeping.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import CacheType, ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails
from openfeature.provider import ProviderStatus
from pytest_bdd import given, parsers, then, when

from tests.ports import free_port

from ..launchpad import LocalLaunchpad

EVENT_WAIT = 30.0
READY_WAIT = 30.0
DEFAULT_OPTIONS: dict[str, Any] = {
    "deadline_ms": 1000,
    "stream_deadline_ms": 0,
    "retry_backoff_ms": 1000,
    "retry_backoff_max_ms": 1000,
    "retry_grace_period": 2,
}
CONFIGS = {"stable": "default", "metadata": "metadata", "syncpayload": "sync-payload"}
EVENTS = {
    "ready": ProviderEvent.PROVIDER_READY,
    "error": ProviderEvent.PROVIDER_ERROR,
    "stale": ProviderEvent.PROVIDER_STALE,
    "change": ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
}
_domains = itertools.count()


def _boolean(value: str) -> bool:
    return value.lower() in ("yes", "true", "t", "1")


VALUE_TYPES: dict[str, Callable[[str], Any]] = {
    "Integer": int,
    "Float": float,
    "String": str,
    "Boolean": _boolean,
    "Object": json.loads,
}
OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "Integer": int,
    "Long": int,
    "String": str,
    "Boolean": _boolean,
    "CacheType": CacheType,
    "StringList": lambda s: [item.strip() for item in s.split(",") if item.strip()],
}


class EventLog:
    """Provider events as the handlers saw them; steps wait on it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._events: list[tuple[str, EventDetails]] = []

    def handler(self, kind: str) -> Callable[[EventDetails], None]:
        def record(details: EventDetails) -> None:
            with self._condition:
                self._events.append((kind, details))
                self._condition.notify_all()

        return record

    def wait_for(self, kind: str, seconds: float) -> EventDetails:
        """The first `kind` event (waiting up to `seconds`); then forgets every event seen, as
        the provider's steps do."""
        with self._condition:
            self._condition.wait_for(lambda: any(k == kind for k, _ in self._events), seconds)
            found = [details for k, details in self._events if k == kind]
            self._events.clear()
        assert found, f"no {kind} event within {seconds:g}s"
        return found[0]


@pytest.fixture
def resolver_type(request: pytest.FixtureRequest) -> ResolverType:
    return ResolverType(request.module.MODE)


@pytest.fixture
def option_values() -> dict[str, Any]:
    return {}


@pytest.fixture
def evaluation_context() -> EvaluationContext:
    return EvaluationContext()


@pytest.fixture
def events() -> EventLog:
    return EventLog()


class Shutdowns:
    """Providers shut down off the scenarios' path. grpcio's channel.close() waits out the
    0.2 s poll of the thread watching the channel's state: a fifth of a second per scenario, a
    minute and more over the testbed. Every shutdown must still succeed (checked at the end)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="provider-shutdown")
        self._started: list[Future[None]] = []

    def submit(self, provider: FlagdProvider) -> None:
        self._started.append(self._pool.submit(provider.shutdown))

    def finish(self) -> list[BaseException]:
        """Waits for every shutdown; the exceptions they raised."""
        self._pool.shutdown(wait=True)
        return [error for f in self._started if (error := f.exception()) is not None]


@pytest.fixture(scope="session")
def shutdowns() -> Iterator[Shutdowns]:
    pending = Shutdowns()
    yield pending
    failed = pending.finish()
    assert not failed, f"{len(failed)} provider shutdowns failed, the first: {failed[0]!r}"


@pytest.fixture
def providers(shutdowns: Shutdowns) -> Iterator[list[FlagdProvider]]:
    """Every provider a scenario made; shut down after it."""
    made: list[FlagdProvider] = []
    yield made
    for provider in made:
        shutdowns.submit(provider)


def _snake(name: str) -> str:
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", name).lower()


@given(
    parsers.re(
        r'an option "(?P<option>[^"]+)" of type "(?P<kind>[^"]+)" with value "(?P<value>[^"]*)"'
    )
)
def option_with_value(option: str, kind: str, value: str, option_values: dict[str, Any]) -> None:
    option_values[_snake(option)] = OPTION_TYPES[kind](value)


@given(parsers.cfparse("a {provider_type} flagd provider"), target_fixture="client")
def setup_provider(
    provider_type: str,
    resolver_type: ResolverType,
    option_values: dict[str, Any],
    launchpad: LocalLaunchpad,
    providers: list[FlagdProvider],
) -> OpenFeatureClient:
    options = {
        **DEFAULT_OPTIONS,
        "resolver_type": resolver_type,
        "host": "127.0.0.1",
        "port": launchpad.port,
    }
    wait = True
    if provider_type == "unavailable":  # nothing listens there
        options = {"resolver_type": resolver_type, "host": "127.0.0.1", "port": free_port()}
        wait = False
    elif provider_type == "forbidden":
        launchpad.start_forbidden()
        options["port"] = launchpad.forbidden_port
        wait = False
    else:
        launchpad.start(CONFIGS[provider_type])
    provider = FlagdProvider(**{**options, **option_values})
    providers.append(provider)
    domain = f"testbed-{next(_domains)}"
    client = api.get_client(domain)
    ready = threading.Event()
    api.set_provider(provider, domain)
    # Now, not before: the domain's status is the new provider's (a handler added while the
    # default provider stood in would run at once, that provider being ready).
    client.add_handler(ProviderEvent.PROVIDER_READY, lambda _: ready.set())
    if wait:
        assert ready.wait(READY_WAIT), f"the {provider_type} provider never became ready"
    return client


@when(parsers.cfparse("the connection is lost for {seconds:d}s"))
def connection_lost(seconds: int, launchpad: LocalLaunchpad) -> None:
    launchpad.restart(seconds)


@then(parsers.cfparse("the client should be in {status} state"))
def client_state(status: str, client: OpenFeatureClient) -> None:
    assert client.get_provider_status() == ProviderStatus[status.upper()]


@given(
    parsers.re(
        r'a (?P<kind>\w+)-flag with key "(?P<key>[^"]*)" and a default value "(?P<default>[^"]*)"'
    ),
    target_fixture="flag",
)
def flag_with_default(kind: str, key: str, default: str) -> tuple[str, Any, str]:
    return key, VALUE_TYPES[kind](default), kind


@when("the flag was evaluated with details", target_fixture="details")
def evaluate(
    client: OpenFeatureClient, flag: tuple[str, Any, str], evaluation_context: EvaluationContext
) -> FlagEvaluationDetails[Any]:
    key, default, kind = flag
    method = {
        "Boolean": client.get_boolean_details,
        "String": client.get_string_details,
        "Integer": client.get_integer_details,
        "Float": client.get_float_details,
        "Object": client.get_object_details,
    }[kind]
    details: FlagEvaluationDetails[Any] = method(key, default, evaluation_context)  # type: ignore[operator]
    return details


@when("the flag was modified")
def modify_flag(launchpad: LocalLaunchpad) -> None:
    launchpad.change()


@then("the flag should be part of the event payload")
def flag_in_event(flag: tuple[str, Any, str], event_details: EventDetails) -> None:
    assert flag[0] in (event_details.flags_changed or [])


@then(parsers.re(r'the resolved details value should be "(?P<value>.*)"'))
def details_value(
    details: FlagEvaluationDetails[Any], flag: tuple[str, Any, str], value: str
) -> None:
    assert details.value == VALUE_TYPES[flag[2]](value)


@then(parsers.cfparse('the variant should be "{variant}"'))
def details_variant(details: FlagEvaluationDetails[Any], variant: str) -> None:
    assert details.variant == variant


@then(parsers.cfparse('the reason should be "{reason}"'))
def details_reason(details: FlagEvaluationDetails[Any], reason: str) -> None:
    assert details.reason == reason


@then(parsers.re(r'the error-code should be "(?P<code>[^"]*)"'))
def details_error_code(details: FlagEvaluationDetails[Any], code: str) -> None:
    assert details.error_code == (ErrorCode(code) if code else None)


@then("the resolved metadata should contain")
def metadata_contains(details: FlagEvaluationDetails[Any], datatable: list[list[str]]) -> None:
    rows = datatable[1:]  # the header
    assert len(details.flag_metadata) == len(rows)
    for key, kind, value in rows:
        assert details.flag_metadata[key] == VALUE_TYPES[kind](value)


@then("the resolved metadata is empty")
def metadata_empty(details: FlagEvaluationDetails[Any]) -> None:
    assert len(details.flag_metadata) == 0


@given(parsers.cfparse('a context containing a targeting key with value "{targeting_key}"'))
def context_targeting_key(evaluation_context: EvaluationContext, targeting_key: str) -> None:
    evaluation_context.targeting_key = targeting_key


@given(
    parsers.re(
        r'a context containing a key "(?P<key>[^"]+)", with type "(?P<kind>[^"]+)" '
        r'and with value "(?P<value>.*)"'
    )
)
def context_value(evaluation_context: EvaluationContext, key: str, kind: str, value: str) -> None:
    evaluation_context.attributes[key] = VALUE_TYPES[kind](value)  # type: ignore[index]


@given(
    parsers.re(
        r'a context containing a nested property with outer key "(?P<outer>[^"]+)" and '
        r'inner key "(?P<inner>[^"]+)", with value "(?P<value>.*)"'
    )
)
def context_nested(
    evaluation_context: EvaluationContext, outer: str, inner: str, value: str
) -> None:
    attributes: Any = evaluation_context.attributes
    attributes.setdefault(outer, {})[inner] = value


@given(parsers.cfparse("a {event_type} event handler"))
def event_handler(client: OpenFeatureClient, event_type: str, events: EventLog) -> None:
    client.add_handler(EVENTS[event_type], events.handler(event_type))


@when(parsers.cfparse("a {event_type} event was fired"), target_fixture="event_details")
def event_fired(event_type: str, events: EventLog) -> EventDetails:
    return events.wait_for(event_type, EVENT_WAIT)


@then(parsers.cfparse("the {event_type} event handler should have been executed"))
def handler_ran(event_type: str, events: EventLog) -> None:
    events.wait_for(event_type, EVENT_WAIT)


@then(parsers.cfparse("the {event_type} event handler should have been executed within {ms:d}ms"))
def handler_ran_within(event_type: str, ms: int, events: EventLog) -> None:
    events.wait_for(event_type, ms / 1000)
