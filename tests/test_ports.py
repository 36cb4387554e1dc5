"""The test helper that hands out loopback ports for servers started in other processes."""

from __future__ import annotations

import socket

import pytest

from tests import ports


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == 50
    assert all(port < ports._ephemeral_start() for port in handed)
    for port in handed[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_something_listens_on_is_skipped() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not ports._is_free(taken)


def test_each_worker_has_its_own_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(set(ports._slice()))
    assert all(len(s) > 1_000 for s in slices)
    assert sum(len(s) for s in slices) == len(slices[0] | slices[1] | slices[2])
