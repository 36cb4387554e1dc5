"""Shutdown always ends: probes that swallow their cancellation, hooks that hang, a blocked loop.

In process: `watch_dependency` and `GrpcServer.stop` with probes that misbehave exactly as a
redis-py PING can on Python 3.11. As real processes (`tests.svckit.shutdown_app` under the kit's
`run()`): a clean SIGTERM exits 0, also with a probe that swallows its cancellation; a hung
shutdown (a hook that never returns, a hook that blocks the loop, a loop already blocked when
the signal comes) exits `HUNG_SHUTDOWN_EXIT_CODE` at the deadline and says what was pending; a
second SIGTERM ends it at once. Every wait is bounded, and every child process is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1._async import HealthServicer

import svckit.server
from svckit.health import Readiness, watch_dependency
from svckit.server import create_server
from svckit.shutdown import HUNG_SHUTDOWN_EXIT_CODE
from tests.redis_server import reap, track
from tests.svckit.echo import echo_app

ROOT = Path(__file__).resolve().parents[2]
BOUND = 10.0
"""Upper bound on any wait in these tests; generous for a loaded machine."""


def _watchers() -> list[asyncio.Task[Any]]:
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "watch_dependency"
    ]


async def test_a_cancellation_lost_in_wait_for_still_stops_the_probe_loop() -> None:
    """The leak that was seen: PING's socket write completes as the cancel lands (3.11)."""
    loop = asyncio.get_running_loop()
    first = loop.create_future()
    probing = asyncio.Event()
    calls = 0

    async def probe() -> bool:
        nonlocal calls
        calls += 1
        probing.set()
        # The first probe's write is about to complete; any later one would wait for ever.
        reply: bool = await asyncio.wait_for(first if calls == 1 else loop.create_future(), 60)
        return reply

    readiness = Readiness(HealthServicer(), [])
    task = asyncio.create_task(watch_dependency(readiness, "redis", probe, interval=0.01))
    async with asyncio.timeout(BOUND):
        await probing.wait()
    first.set_result(True)  # the inner operation finishes...
    task.cancel()  # ...in the same turn as the cancellation: 3.11's wait_for returns its result
    done, _ = await asyncio.wait([task], timeout=BOUND)
    assert done, "watch_dependency kept probing after it was cancelled"
    assert task.cancelled()
    assert calls == 1


async def test_stop_ends_a_probe_that_swallows_its_cancellation() -> None:
    probing = asyncio.Event()
    calls = 0

    async def probe() -> bool:
        nonlocal calls
        calls += 1
        probing.set()
        if calls > 1:  # only once, so that a regression fails this test instead of hanging it
            await asyncio.sleep(3600)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return True  # what asyncio.wait_for can do on 3.11
        return True

    server = create_server(echo_app(dependencies={"db": probe}, probe_interval=0.01))
    await server.start()
    async with asyncio.timeout(BOUND):
        await probing.wait()
    async with asyncio.timeout(BOUND):
        await server.stop(grace=0.1)
    assert not _watchers()
    assert calls == 1


async def test_stop_gives_up_on_a_probe_that_ignores_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(svckit.server, "PROBE_STOP_TIMEOUT", 0.2)
    probing = asyncio.Event()
    release = asyncio.Event()
    stopped = asyncio.Event()

    async def stubborn() -> bool:
        probing.set()
        while True:
            try:
                await release.wait()
                return True
            except asyncio.CancelledError:
                continue

    async def on_stop() -> None:
        stopped.set()

    app = echo_app(dependencies={"db": stubborn}, probe_interval=0.01, on_stop=[on_stop])
    server = create_server(app)
    await server.start()
    async with asyncio.timeout(BOUND):
        await probing.wait()
    async with asyncio.timeout(BOUND):
        await server.stop(grace=0.1)
    assert stopped.is_set(), "the app's resources were not released"
    (watcher,) = _watchers()
    release.set()  # now the probe returns, and its loop honours the cancellation it got
    done, _ = await asyncio.wait([watcher], timeout=BOUND)
    assert done
    assert watcher.cancelled()


class AppProcess:
    """`tests.svckit.shutdown_app` in a child process, its JSON log lines read as they come."""

    def __init__(self, mode: str, grace: float, margin: float) -> None:
        self.process = track(
            subprocess.Popen(
                [sys.executable, "-m", "tests.svckit.shutdown_app", mode, str(grace), str(margin)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        self.records: list[dict[str, Any]] = []
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._lines.put(raw.decode(errors="replace"))
        self._lines.put(None)

    def _take(self, timeout: float) -> str | None:
        line = self._lines.get(timeout=timeout)
        if line is not None:
            self.output.append(line)
            with contextlib.suppress(json.JSONDecodeError):
                self.records.append(json.loads(line))
        return line

    def wait_for_log(self, message: str, timeout: float = BOUND) -> None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._take(remaining)
            except queue.Empty:
                break
            if line is None:
                break
            if self.records and self.records[-1].get("message") == message:
                return
        raise AssertionError(f"no {message!r} log line; output:\n{''.join(self.output)}")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = BOUND) -> int:
        """The exit status; every log line is read by the time it returns."""
        code = self.process.wait(timeout=timeout)
        while self._take(timeout) is not None:
            pass
        return code

    def close(self) -> bool:
        """Kill and reap the process if it still runs (True then), and close its pipe."""
        killed = reap(self.process, None).killed
        self._reader.join(BOUND)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return killed

    def record(self, message_start: str) -> dict[str, Any]:
        found = [r for r in self.records if str(r.get("message", "")).startswith(message_start)]
        assert found, f"no log line starting {message_start!r}; output:\n{''.join(self.output)}"
        return found[-1]


@pytest.fixture
def start_app() -> Iterator[Any]:
    """Starts `AppProcess`es that are reaped at teardown; one still running fails the test."""
    started: list[AppProcess] = []

    def start(mode: str, grace: float = 0.2, margin: float = 1.5) -> AppProcess:
        app = AppProcess(mode, grace, margin)
        started.append(app)
        app.wait_for_log("serving")
        return app

    try:
        yield start
    finally:
        leftovers = [app.process.pid for app in started if app.close()]
        if leftovers:
            pytest.fail(f"processes {leftovers} were still running: killed", pytrace=False)


def _terminate(app: AppProcess) -> tuple[int, float]:
    """SIGTERM, then (exit status, seconds until the exit)."""
    sent = time.monotonic()
    app.signal()
    code = app.wait(BOUND + 5)
    return code, time.monotonic() - sent


@pytest.mark.slow
def test_clean_shutdown_exits_zero_at_once(start_app: Any) -> None:
    app = start_app("clean", margin=30)
    code, elapsed = _terminate(app)
    assert code == 0, "".join(app.output)
    assert app.record("stopped")
    assert elapsed < 5


@pytest.mark.slow
def test_probe_that_swallows_its_cancellation_does_not_hang_the_shutdown(
    start_app: Any,
) -> None:
    app = start_app("swallowing-probe", margin=30)
    code, elapsed = _terminate(app)
    assert code == 0, "".join(app.output)
    assert app.record("stopped")
    assert elapsed < 5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "culprit"),
    [("hung-hook", "never_returns"), ("blocked-loop", "blocks_the_loop")],
)
def test_hung_shutdown_exits_non_zero_at_the_deadline_saying_what_hung(
    start_app: Any, mode: str, culprit: str
) -> None:
    grace, margin = 0.2, 1.5
    app = start_app(mode, grace=grace, margin=margin)
    code, elapsed = _terminate(app)
    assert code == HUNG_SHUTDOWN_EXIT_CODE, "".join(app.output)
    assert grace + margin - 0.1 <= elapsed < grace + margin + 5
    report = app.record("shutdown did not finish within 1.7s")
    assert not any(r.get("message") == "stopped" for r in app.records)
    assert culprit in json.dumps([report["pending_tasks"], report["threads"]])


@pytest.mark.slow
def test_a_deadline_of_zero_still_ends_a_hung_shutdown(start_app: Any) -> None:
    """The watchdog's wait for a second signal must not become a non-blocking read (which
    raised BlockingIOError and ended the watchdog, leaving the process hung for good)."""
    app = start_app("hung-hook", grace=0, margin=0)
    code, _ = _terminate(app)
    assert code == HUNG_SHUTDOWN_EXIT_CODE, "".join(app.output)


@pytest.mark.slow
def test_sigterm_to_a_blocked_event_loop_still_ends_the_process(start_app: Any) -> None:
    grace, margin = 0.2, 1.5
    app = start_app("blocked-serving", grace=grace, margin=margin)
    app.wait_for_log("blocking the event loop")
    code, elapsed = _terminate(app)
    assert code == HUNG_SHUTDOWN_EXIT_CODE, "".join(app.output)
    assert grace + margin - 0.1 <= elapsed < grace + margin + 5
    report = app.record("shutdown did not finish within 1.7s")
    assert "block_while_serving" in json.dumps(report["threads"])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hung-hook", "blocked-loop"])
def test_second_sigterm_forces_the_exit_at_once(start_app: Any, mode: str) -> None:
    app = start_app(mode, margin=60)
    app.signal()
    app.wait_for_log("shutting down")
    sent = time.monotonic()
    app.signal()
    code = app.wait(BOUND)
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - sent < 5
    assert app.record("second SIGTERM during shutdown")
