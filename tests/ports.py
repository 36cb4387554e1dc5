"""Loopback ports for the servers that tests start in other processes.

The usual trick, binding port 0 and closing the socket, hands out a port from the kernel's
ephemeral range: the range every outgoing connection takes its local port from. Between the
probe's close and the server's bind, any connection opened on the machine (to Redis, to
PostgreSQL, between another test's services) may take that port, and the server fails with
"Address already in use". With tests running in parallel workers this happened once a run.

So ports here come from below the ephemeral range, where no outgoing connection goes. Each
pytest-xdist worker draws from its own slice, in turn from a random start (no port is handed
out twice by one worker until its slice wraps around), and each is checked free by a bind.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
from pathlib import Path

_LOWEST = 10_000
_DEFAULT_EPHEMERAL_START = 32_768  # Linux's default ip_local_port_range starts here


def _ephemeral_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def _slice() -> range:
    """This process's ports: its xdist worker's share of [_LOWEST, ephemeral start)."""
    top = max(_ephemeral_start(), _LOWEST + 1_000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker) if worker.isdigit() else 0
    width = (top - _LOWEST) // max(count, 1)
    start = _LOWEST + index * width
    return range(start, start + width)


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Dealer:
    """Deals this process's slice in turn from a random start; one pass finds any free port."""

    def __init__(self) -> None:
        ports = _slice()
        first = random.randrange(len(ports))  # spreading, not secrecy
        self._size = len(ports)
        order: list[int] = [*ports[first:], *ports[:first]]
        self._cycle = itertools.cycle(order)
        self._lock = threading.Lock()

    def deal(self) -> int:
        with self._lock:
            for port in itertools.islice(self._cycle, self._size):
                if _is_free(port):
                    return port
        raise OSError("no free loopback port below the ephemeral range")


_dealer: _Dealer | None = None


def free_port() -> int:
    """A loopback TCP port that nothing listens on, outside the ephemeral range."""
    global _dealer
    if _dealer is None:
        _dealer = _Dealer()
    return _dealer.deal()
