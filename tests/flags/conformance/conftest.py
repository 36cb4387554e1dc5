"""The flagd testbed's scenarios, filtered by tags as the flagd provider's own tests filter them.

Each test module here sets `MODE` ("rpc", "in-process" or "evaluator"). For the provider
modes, a scenario not tagged with the mode does not apply and is deselected (the provider's
`TestFilter` does the same); a scenario carrying an excluded tag is skipped with the reason
below. The exclusions are the provider 0.6.1's own (its tests/e2e/<mode>/conftest.py), plus
what needs infrastructure we do not have, each with its reason. Tags are registered as
markers (the repository runs pytest with --strict-markers).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from .launchpad import LocalLaunchpad
from .testbed import TESTBED, feature_tags, require_testbed

PROVIDERS_FILTER = "the flagd provider 0.6.1's own filter for this mode"
ENGINE = "openfeature-flagd-core 2.x, which the service evaluates with, implements fractional v3"
V3_ELSEWHERE = "its v3 vectors are in gherkin/targeting.feature, run in both provider modes"
COMMON = {
    "targetURI": f"the Python provider has no targetUri option ({PROVIDERS_FILTER})",
    "unixsocket": f"the Python provider has no unix socket option ({PROVIDERS_FILTER})",
    "deprecated": f"superseded by the @no-default-variant scenarios ({PROVIDERS_FILTER})",
    "fractional-v1": f"legacy hashing: {ENGINE} ({PROVIDERS_FILTER})",
    "fractional-v2": f"flagd 0.15's hashing: {ENGINE} ({PROVIDERS_FILTER})",
    "customCert": (
        "needs a server certificate signed by the testbed's CA, whose private key the testbed "
        "does not ship; the service listens in plaintext (TLS ends in front of it)"
    ),
}
EXCLUDED: dict[str, dict[str, str]] = {
    "rpc": {
        **COMMON,
        "sync": f"sync options do not apply to RPC mode ({PROVIDERS_FILTER})",
        "metadata": f"the RPC resolver drops flag metadata ({PROVIDERS_FILTER})",
    },
    "in-process": dict(COMMON),
    "evaluator": {
        "fractional-v1": f"legacy hashing: {ENGINE}; {V3_ELSEWHERE}",
        "fractional-v2": f"flagd 0.15's hashing: {ENGINE}; {V3_ELSEWHERE}",
    },
}
CLIENT_ONLY = {
    "config.feature": "checks the provider's option defaults: no server takes part",
}


def pytest_configure(config: pytest.Config) -> None:
    if TESTBED.is_dir():
        tags = feature_tags(TESTBED / "gherkin") | feature_tags(TESTBED / "evaluator/gherkin")
        for tag in tags:
            config.addinivalue_line("markers", f"{tag}: a flagd testbed tag")
    previous = threading.excepthook
    threading.excepthook = _ignoring_closed_channel_polls(previous)
    config.add_cleanup(lambda: setattr(threading, "excepthook", previous))


def _ignoring_closed_channel_polls(
    hook: Callable[[threading.ExceptHookArgs], object],
) -> Callable[[threading.ExceptHookArgs], object]:
    """Drops one known race of the client side, and nothing else: the flagd provider closes
    its channel in shutdown() while grpcio's thread watching that channel's connectivity (the
    provider subscribes to it) is still polling, and that thread dies with
    "Cannot monitor channel state: Channel closed!". Every other thread exception still fails
    the test."""

    def filtered(args: threading.ExceptHookArgs) -> object:
        frames = traceback.extract_tb(args.exc_traceback)
        if (
            args.exc_type is ValueError
            and str(args.exc_value) == "Cannot monitor channel state: Channel closed!"
            and any(frame.name == "_poll_connectivity" for frame in frames)
        ):
            return None
        return hook(args)

    return filtered


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected = [], []
    for item in items:
        mode = getattr(getattr(item, "module", None), "MODE", None)
        if mode is None:
            kept.append(item)
            continue
        tags = {marker.name for marker in item.iter_markers()}
        if mode != "evaluator" and mode not in tags:
            deselected.append(item)
            continue
        kept.append(item)
        reasons = [reason for tag, reason in EXCLUDED[mode].items() if tag in tags]
        function = getattr(item, "obj", None)
        scenario = scenario_wrapper_template_registry.get(function) if function else None
        if scenario is not None:
            reasons += [
                r for name, r in CLIENT_ONLY.items() if scenario.feature.filename.endswith(name)
            ]
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(sorted(set(reasons)))))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def launchpad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLaunchpad]:
    require_testbed()
    pad = LocalLaunchpad(Path(tmp_path_factory.mktemp("launchpad")))
    try:
        yield pad
    finally:
        pad.close()
