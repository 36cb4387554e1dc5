"""Keeps the descriptor config in force, and reloads it when its directory changes.

A reload reads every `*.yaml`/`*.yml` file in the directory and swaps the whole config in one
assignment; readers take `current()` once per request and never see a half-loaded tree. A bad
file rejects the whole reload: the previous config stays in force, `config_load_error` is
counted and the error is logged and kept in `last_error`. Files are read on the event loop:
a config directory is a few small files, and reloads are rare.

The watcher (watchfiles' `awatch`) reacts to YAML files and to Kubernetes ConfigMap updates,
which swap a `..data` symlink instead of touching the YAML names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from services.ratelimit.envoy.config import (
    CONFIG_SUFFIXES,
    ConfigError,
    RateLimitConfig,
    load_config,
    read_directory,
)
from services.ratelimit.envoy.stats import EnvoyStats

log = logging.getLogger(__name__)

ReloadListener = Callable[[bool], None]
"""Told after every reload whether it took; health reporting hooks in here."""


class ConfigReloader:
    """The config in force for the Envoy API, loaded from `directory`."""

    def __init__(
        self,
        directory: Path,
        stats: EnvoyStats,
        *,
        merge_domains: bool = False,
        on_reload: ReloadListener | None = None,
        debounce_ms: int = 1_600,
        poll_timeout_ms: int = 1_000,
    ) -> None:
        self.directory = directory
        self._stats = stats
        self._merge_domains = merge_domains
        self._on_reload = on_reload
        self._debounce_ms = debounce_ms
        self._poll_timeout_ms = poll_timeout_ms
        self._config: RateLimitConfig | None = None
        self.last_error: str | None = None
        self.watching = asyncio.Event()
        """Set once the watcher observes the directory, so later changes are not missed."""

    def current(self) -> RateLimitConfig | None:
        """The config in force, or None while no load has ever succeeded."""
        return self._config

    def reload(self) -> bool:
        """Load the directory now; keep the previous config if any file is bad."""
        try:
            config = load_config(read_directory(self.directory), merge_domains=self._merge_domains)
        except ConfigError as exc:
            self.last_error = str(exc)
            self._stats.config_load_error.inc()
            log.error("rate limit config rejected, keeping the previous one: %s", exc)
            self._notify(False)
            return False
        self._config = config
        self.last_error = None
        self._stats.config_load_success.inc()
        log.info("rate limit config loaded: %d domain(s)", len(config.domains))
        self._notify(True)
        return True

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Reload on every relevant change until `stop` is set or the task is cancelled.

        Does not load on start: call `reload()` first, so start-up decides what a missing or
        bad initial config means.
        """
        async for changes in awatch(
            self.directory,
            watch_filter=_is_config_change,
            debounce=self._debounce_ms,
            stop_event=stop,
            rust_timeout=self._poll_timeout_ms,
            yield_on_timeout=True,
            recursive=False,
        ):
            self.watching.set()
            if changes:
                log.debug("rate limit config directory changed: %s", changes)
                self.reload()

    def _notify(self, loaded: bool) -> None:
        if self._on_reload is not None:
            self._on_reload(loaded)


def _is_config_change(_: Change, path: str) -> bool:
    name = Path(path).name
    return name.endswith(CONFIG_SUFFIXES) or name.startswith("..")
