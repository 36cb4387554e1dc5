"""A private redis-server on a free loopback port, for tests that stop and start Redis.

Tests that only need counters use the shared server from `tests/conftest.py`; tests that kill
Redis, pause it or restart it get their own so they never disturb anybody else.

Child processes of the tests must never outlive them: `reap` ends one within a bounded time
(SIGKILL when asked, or when the polite signal was not enough), and every child started through
`track` that is still running when the interpreter exits (an interrupted run) is killed then.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.backends import missing_backend
from tests.ports import free_port

KILL_TIMEOUT = 10.0
"""Seconds a SIGKILLed child gets to be reaped; only an unkillable process takes that long."""

_running: set[subprocess.Popen[bytes]] = set()


def track(process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Remember `process` so that it is killed at exit if nothing reaped it before."""
    _running.add(process)
    return process


@dataclass(frozen=True)
class Reaped:
    """How a child ended: its exit status, and whether it had to be killed."""

    returncode: int | None
    killed: bool

    def describe(self, sent: str = "SIGTERM", timeout: float = 0) -> str:
        if self.returncode is None:
            return f"could not be reaped even {KILL_TIMEOUT:g}s after SIGKILL"
        if self.killed:
            return f"did not exit within {timeout:g}s of {sent}: killed with SIGKILL"
        return f"exited {self.returncode}"


def reap(
    process: subprocess.Popen[bytes],
    sig: signal.Signals | None = signal.SIGTERM,
    timeout: float = 0,
) -> Reaped:
    """Send `sig` (None: nothing), wait up to `timeout` s, then SIGKILL; always bounded."""
    killed = False
    try:
        if process.poll() is None:
            if sig is not None:
                process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                process.kill()
                process.wait(timeout=KILL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Reaped(None, killed)
    _running.discard(process)
    return Reaped(process.returncode, killed)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_running):
        reap(process, sig=None)


class RedisServer:
    """Start, stop and restart one redis-server process on a fixed port."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing_backend("redis-server is not installed")
        self._binary = str(binary)
        self._workdir = workdir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self._workdir)]
        self._process = track(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        try:
            self._wait_until(lambda: self._answers(), "redis-server did not start")
        except BaseException:
            self.close()
            raise

    def stop(self) -> None:
        """Kill Redis abruptly (as an outage does) and wait until the port stops answering."""
        self.close()
        self._wait_until(lambda: not self._answers(), "redis-server did not stop")

    def close(self) -> None:
        """Kill and reap the process if it runs; safe to call at any time, again and again."""
        process, self._process = self._process, None
        if process is not None:
            outcome = reap(process, sig=None)
            if outcome.returncode is None:
                raise RuntimeError(f"redis-server {process.pid} {outcome.describe()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @staticmethod
    def _wait_until(condition: Callable[[], bool], message: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.02)
        raise TimeoutError(message)
