"""Config reloading: a bad file keeps the previous config; the watcher reloads on change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from watchfiles import Change

from services.ratelimit.envoy.reload import ConfigReloader, _is_config_change
from services.ratelimit.envoy.stats import EnvoyStats

GOOD = (
    "domain: first\ndescriptors:\n  - {key: k, rate_limit: {unit: second, requests_per_unit: 1}}\n"
)
SECOND = "domain: second\n"


def publish(path: Path, text: str) -> None:
    """Write a file in one step (write aside, then rename), so no reload sees it half-written."""
    aside = path.with_name(path.name + ".tmp")
    aside.write_text(text)
    aside.replace(path)


def test_nothing_is_in_force_before_the_first_load(tmp_path: Path, stats: EnvoyStats) -> None:
    assert ConfigReloader(tmp_path, stats).current() is None


def test_reload_loads_every_yaml_file(tmp_path: Path, stats: EnvoyStats) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(SECOND)
    seen: list[bool] = []
    reloader = ConfigReloader(tmp_path, stats, on_reload=seen.append)
    assert reloader.reload() is True
    config = reloader.current()
    assert config is not None
    assert set(config.domains) == {"first", "second"}
    assert seen == [True]
    assert stats.count("config_load_success") == 1


def test_a_bad_file_keeps_the_previous_config(
    tmp_path: Path, stats: EnvoyStats, config_dir: Path
) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    seen: list[bool] = []
    reloader = ConfigReloader(tmp_path, stats, on_reload=seen.append)
    reloader.reload()
    before = reloader.current()
    bad = config_dir / "bad_limit_unit.yaml"
    (tmp_path / bad.name).write_text(bad.read_text())
    assert reloader.reload() is False
    assert reloader.current() is before
    assert reloader.last_error == "bad_limit_unit.yaml: invalid rate limit unit 'foo'"
    assert seen == [True, False]
    assert (stats.count("config_load_success"), stats.count("config_load_error")) == (1, 1)


def test_a_failed_first_load_leaves_nothing_in_force(tmp_path: Path, stats: EnvoyStats) -> None:
    reloader = ConfigReloader(tmp_path / "absent", stats)
    assert reloader.reload() is False
    assert reloader.current() is None
    assert stats.count("config_load_error") == 1


def test_merge_domains_is_passed_to_the_loader(tmp_path: Path, stats: EnvoyStats) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("domain: first\ndescriptors:\n  - {key: j}\n")
    assert ConfigReloader(tmp_path, stats).reload() is False
    merging = ConfigReloader(tmp_path, stats, merge_domains=True)
    assert merging.reload() is True
    config = merging.current()
    assert config is not None
    root = config.domain("first")
    assert root is not None
    assert set(root.children) == {"k", "j"}


async def test_the_watcher_reloads_on_change(tmp_path: Path, stats: EnvoyStats) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    reloaded = asyncio.Event()
    outcomes: list[bool] = []

    def on_reload(loaded: bool) -> None:
        outcomes.append(loaded)
        reloaded.set()

    reloader = ConfigReloader(
        tmp_path, stats, on_reload=on_reload, debounce_ms=50, poll_timeout_ms=50
    )
    reloader.reload()
    reloaded.clear()
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.watch(stop))
    try:
        await asyncio.wait_for(reloader.watching.wait(), timeout=10)
        publish(tmp_path / "b.yaml", SECOND)
        await asyncio.wait_for(reloaded.wait(), timeout=10)
        config = reloader.current()
        assert config is not None
        assert set(config.domains) == {"first", "second"}

        reloaded.clear()
        publish(tmp_path / "c.yaml", "domain: first\n")
        await asyncio.wait_for(reloaded.wait(), timeout=10)
        assert outcomes[-1] is False
        assert reloader.current() is config
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


@pytest.mark.parametrize(
    ("path", "relevant"),
    [
        ("/etc/ratelimit/a.yaml", True),
        ("/etc/ratelimit/a.yml", True),
        ("/etc/ratelimit/..data", True),
        ("/etc/ratelimit/..2025_01_01_00_00_00.123", True),
        ("/etc/ratelimit/notes.txt", False),
        ("/etc/ratelimit/.a.yaml.swp", False),
    ],
)
def test_watch_filter_follows_yaml_and_configmap_swaps(path: str, relevant: bool) -> None:
    assert _is_config_change(Change.modified, path) is relevant
