"""Bounded shutdown: a watchdog turning SIGTERM/SIGINT into a shutdown request with a deadline.

Shutdown is bounded. A hung shutdown is worse than an abrupt one: the process keeps its port and
its connections, the orchestrator waits for it, and SIGTERM can do nothing more (its handler
only sets an event that is already set). So signals are read by a watchdog, a daemon thread
that does not depend on the event loop (which may be the thing that is stuck), and the first
SIGTERM or SIGINT both asks the loop to shut down and starts the clock:

- if the process has not exited `shutdown_grace_seconds + stop_margin` seconds after the signal
  (default margin `SHUTDOWN_MARGIN_SECONDS`), the watchdog logs what was still pending (every
  unfinished asyncio task with the chain of awaits it is suspended in, and every thread's stack)
  and ends the process with `os._exit(HUNG_SHUTDOWN_EXIT_CODE)` (70, EX_SOFTWARE);
- a second SIGTERM or SIGINT during shutdown does the same at once, exiting 128 + the signal
  number, as a shell reports a process killed by it.

`os._exit` is deliberate: once shutdown has hung nothing else is reliable. `sys.exit` would run
`asyncio.run`'s cleanup, which cancels and awaits every remaining task and joins the default
executor without a limit on Python 3.11, and then the interpreter joins non-daemon threads.
The watchdog stays armed after `run()` returns, so a hang in that cleanup is bounded too; this
is why `run()` is meant to be the main coroutine of its own process (it owns the signals as well).
A clean shutdown never reaches the deadline and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any, NoReturn

log = logging.getLogger("svckit.shutdown")

SHUTDOWN_MARGIN_SECONDS = 5.0
"""Time allowed after the drain (`shutdown_grace_seconds`) for the rest of the shutdown."""

HUNG_SHUTDOWN_EXIT_CODE = 70
"""Exit status when the shutdown missed its deadline (EX_SOFTWARE)."""

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ShutdownWatchdog:
    """Turns the first signal into a shutdown request and bounds that shutdown (module doc).

    Signals are read by a thread of their own, not by the event loop: the C-level handler writes
    each signal's number to a wakeup socket (`signal.set_wakeup_fd`) whichever thread the kernel
    interrupted, and the thread blocked on that socket acts at once. So the deadline is armed and
    a second signal is obeyed even while the event loop (or the whole main thread) is stuck. The
    thread touches the loop only through `call_soon_threadsafe`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self.requested = asyncio.Event()
        self._loop = loop
        self._deadline = deadline
        self._wakeup_read, self._wakeup_write = socket.socketpair()

    def install(self) -> None:
        """Take over SIGTERM and SIGINT; call from the main thread."""
        self._wakeup_write.setblocking(False)
        for sig in SIGNALS:
            # A Python-level handler is what makes the interpreter write to the wakeup fd; the
            # work is done by the thread below, so the handler itself does nothing.
            signal.signal(sig, _ignore)
        signal.set_wakeup_fd(self._wakeup_write.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._watch, name="shutdown-signals", daemon=True).start()

    def _watch(self) -> None:
        expires: float | None = None
        while True:
            remaining = None if expires is None else expires - time.monotonic()
            try:
                # A timeout of 0 would make the socket non-blocking (BlockingIOError, and this
                # thread gone with the deadline): an expired deadline is handled here instead.
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                self._wakeup_read.settimeout(remaining)
                received = self._wakeup_read.recv(64)
            except TimeoutError:
                self._exit(
                    HUNG_SHUTDOWN_EXIT_CODE,
                    f"shutdown did not finish within {self._deadline:g}s of the signal; exiting",
                )
            for signum in received:
                if signum not in SIGNALS:
                    continue
                name = signal.Signals(signum).name
                if expires is not None:
                    self._exit(128 + signum, f"second {name} during shutdown; exiting now")
                expires = time.monotonic() + self._deadline
                with contextlib.suppress(RuntimeError):  # the loop is closed: `run()` is over
                    self._loop.call_soon_threadsafe(self._request, name)

    def _request(self, name: str) -> None:
        log.info("received %s", name)
        self.requested.set()

    def _exit(self, code: int, reason: str) -> NoReturn:
        # The report goes through logging, which could itself block (a full stderr pipe, a lock
        # held by the stuck thread): a second timer ends the process regardless.
        backstop = threading.Timer(2.0, os._exit, (code,))
        backstop.daemon = True
        backstop.start()
        try:
            log.error(
                reason,
                extra={
                    "exit_code": code,
                    "pending_tasks": _pending_tasks(self._loop),
                    "threads": _thread_stacks(),
                },
            )
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        finally:
            os._exit(code)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    pass


def _pending_tasks(loop: asyncio.AbstractEventLoop) -> list[str]:
    try:
        tasks = asyncio.all_tasks(loop)
    except RuntimeError:  # the loop is closed: nothing asynchronous is left
        return []
    return [describe_task(task) for task in tasks if not task.done()]


def describe_task(task: asyncio.Task[Any]) -> str:
    """`name: f (file:line) -> g (file:line) -> ...`, the awaits the task is suspended in."""
    hops: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(hops) < 50:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        frame = frame or getattr(awaited, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            hops.append(f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})")
        awaited = (
            getattr(awaited, "cr_await", None)
            or getattr(awaited, "gi_yieldfrom", None)
            or getattr(awaited, "ag_await", None)
        )
    return f"{task.get_name()}: " + (" -> ".join(hops) or repr(task))


def _thread_stacks() -> dict[str, list[str]]:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return {
        f"{names.get(ident, 'unknown')} ({ident})": [
            f"{entry.name} ({entry.filename}:{entry.lineno})"
            for entry in traceback.extract_stack(frame)[-12:]
        ]
        for ident, frame in sys._current_frames().items()
    }


__all__ = [
    "HUNG_SHUTDOWN_EXIT_CODE",
    "SHUTDOWN_MARGIN_SECONDS",
    "ShutdownWatchdog",
    "describe_task",
]
