"""Run a service (`python -m services.<name>`, or the gateway) as a real process, as its
container does.

A process never outlives its test. `stop()` sends SIGTERM and waits `STOP_TIMEOUT` seconds,
longer than the service's own shutdown deadline, then SIGKILLs and reaps it. `stop_all()` stops
every process of a test (all of them, even when one misbehaves) and then fails the test if any
of them did not exit 0 on its own: a shutdown that hangs, or that only ended through the
service's watchdog, is a bug and must not pass silently.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.ports import free_port
from tests.redis_server import Reaped, reap, track

ROOT = Path(__file__).resolve().parents[1]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

STOP_TIMEOUT = 25.0
"""Seconds after SIGTERM before the harness kills a service: its own deadline is 10 + 5 s."""

LOG_TAIL_LINES = 40


class ServiceProcess:
    """One service process on free ports; stop() sends SIGTERM."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        service: str = "ratelimit",
        port: int | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        """`port`: a given gRPC port (a restarted service where its clients expect it);
        `command`: the process's command line, if not `python -m services.<service>`."""
        self._command = list(command) if command else None
        self.port = port or free_port()
        self.metrics_port = free_port()
        self.service = service
        prefix = service.upper()
        self._env = {
            **os.environ,
            f"{prefix}_GRPC_PORT": str(self.port),
            f"{prefix}_METRICS_PORT": str(self.metrics_port),
            f"{prefix}_GRPC_HOST": "127.0.0.1",
            "OTEL_SDK_DISABLED": "true",
            **env,
        }
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = track(
                subprocess.Popen(
                    self.command(),
                    env=self._env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        self.wait_for_health(SERVING)

    def command(self) -> list[str]:
        return self._command or [sys.executable, "-m", f"services.{self.service}"]

    def health(self) -> int:
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            return int(reply.status)

    def wait_for_health(self, want: int, timeout: float = 60) -> None:
        """Polls until health is `want`. The deadline is generous: a start-up under a parallel
        test run (several processes importing at once on two cores) can take tens of seconds."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"service exited early:\n{self.log()}")
            try:
                if (last := self.health()) == want:
                    return
            except grpc.RpcError as exc:
                last = exc.code()
            time.sleep(0.05)
        raise TimeoutError(f"health never became {want} (last {last}):\n{self.log()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        assert self.process is not None
        reap(self.process, signal.SIGKILL, 10)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> Reaped:
        """SIGTERM, wait up to `timeout` s, then SIGKILL; the process is reaped on return."""
        if self.process is None:
            return Reaped(0, killed=False)
        return reap(self.process, signal.SIGTERM, timeout)

    def metric(self, name: str, having: str = "") -> float:
        """The sum of a metric's samples (every label set, or those whose labels include
        `having`, such as 'code="OK"') on the service's metrics port."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and having in line
        )

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log().splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


class GatewayProcess(ServiceProcess):
    """`python -m gateway`: HTTP on one free port, which serves its `/metrics` too. It counts
    as SERVING once `GET /health/ready` answers 200, that is once every downstream service
    answers its gRPC health as SERVING; anything else (refused, 503) is NOT_SERVING."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, log_path, service="gateway", port=port, command=command)
        self.metrics_port = self.port
        self._env = {
            **os.environ,
            "GATEWAY_HTTP_HOST": "127.0.0.1",
            "GATEWAY_HTTP_PORT": str(self.port),
            "OTEL_SDK_DISABLED": "true",
            **env,
        }

    @property
    def origin(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{self.address}"

    def command(self) -> list[str]:
        return self._command or [sys.executable, "-m", "gateway"]

    def health(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.origin}/health/ready", timeout=2) as response:
                return int(SERVING if response.status == 200 else NOT_SERVING)
        except OSError:  # refused while it starts; HTTPError (503) while a downstream is not
            return int(NOT_SERVING)


def stop_all(services: Iterable[ServiceProcess], timeout: float = STOP_TIMEOUT) -> None:
    """Stop every service (SIGTERM to all at once), reap them all, then fail on a bad exit."""
    services = list(services)
    already = {
        id(s): s.process.returncode
        for s in services
        if s.process is not None and s.process.poll() is not None
    }
    for service in services:
        if service.process is not None and service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)  # once: a second one forces the exit
    deadline = time.monotonic() + timeout
    problems = []
    for service in services:
        if service.process is None:
            continue
        outcome = reap(service.process, None, max(0.0, deadline - time.monotonic()))
        if outcome.returncode == 0 and not outcome.killed:
            continue
        pid = service.process.pid if service.process else None
        when = "before the test stopped it" if id(service) in already else "after SIGTERM"
        if outcome.killed or outcome.returncode is None:
            what = outcome.describe("SIGTERM", timeout) + " (a hung shutdown)"
        else:
            what = f"exited {outcome.returncode} {when}"
        problems.append(f"service pid {pid} {what}; last log lines:\n{service.log_tail()}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


__all__ = ["STOP_TIMEOUT", "GatewayProcess", "ServiceProcess", "stop_all"]
