"""Run `python -m services.ratelimit` as a real process, as its container does, for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVING = health_pb2.HealthCheckResponse.SERVING


class ServiceProcess:
    """One rate-limit service process on free ports; stop() sends SIGTERM."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self._env = {
            **os.environ,
            "RATELIMIT_GRPC_PORT": str(self.port),
            "RATELIMIT_METRICS_PORT": str(self.metrics_port),
            "RATELIMIT_GRPC_HOST": "127.0.0.1",
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
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.ratelimit"],
                env=self._env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for_health(SERVING)

    def health(self) -> int:
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            return int(reply.status)

    def wait_for_health(self, want: int, timeout: float = 20) -> None:
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

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.terminate()
        return self.wait()

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")
