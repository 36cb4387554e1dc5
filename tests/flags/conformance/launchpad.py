"""Local hooks in place of the testbed's launchpad: our service instead of flagd.

The testbed drives flagd through an HTTP control server (`/start?config=`, `/change`,
`/restart?seconds=`); the scenarios' steps call these hooks instead:

- `start(config)`: our service serving the launchpad configuration `config` on one fixed
  loopback port (clients of both modes use it). A service already serving that configuration
  is kept, its flags reset to the files' content if a scenario changed them.
- `change()`: toggles `changing-flag`'s defaultVariant between foo and bar through the admin
  API, as the launchpad rewrites the flag file.
- `restart(seconds)`: the connection is lost: the server stops at once and comes back on the
  same port, with the same database, `seconds` later. It returns at once (the launchpad does
  too): scenarios evaluate while the server is away.
- `forbidden_port`: a gRPC server answering PERMISSION_DENIED to every call, in place of the
  testbed's Envoy route that answers HTTP 403.

The service runs on an event loop in a thread of its own, because the OpenFeature provider
under test is synchronous and blocks the thread that calls it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
from prometheus_client import CollectorRegistry
from switchboard.flags.v1 import flags_service_pb2 as pb
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from services.flags import edits
from services.flags.app import FlagsService, build
from services.flags.revision import Authorship, RevisionKind
from services.flags.settings import FlagsSettings
from services.flags.sources import SourceFile
from services.flags.validation import parse_document
from svckit.server import GrpcServer, create_server
from tests.ports import free_port

from .testbed import ALL_FLAGS, launchpad_settings

T = TypeVar("T")
CALL_TIMEOUT = 30.0
CHANGING_FLAG = "changing-flag"


class LocalLaunchpad:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self._workdir = workdir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="launchpad", daemon=True
        )
        self._thread.start()
        self._lock = threading.Lock()
        self._config: str | None = None
        self._service: FlagsService | None = None
        self._server: GrpcServer | None = None
        self._restart: threading.Timer | None = None
        self._dirty = False
        self._forbidden: grpc.aio.Server | None = None
        self.forbidden_port = free_port()

    def start(self, config: str) -> None:
        self._await_restart()
        with self._lock:
            if self._config == config and self._server is not None:
                if self._dirty:
                    self._run(self._reset())
                return
            self._run(self._stop())
            self._config = config
            self._run(self._serve(config))

    def change(self) -> None:
        """Toggles changing-flag's default variant (foo <-> bar), a revision like any other."""
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            admin = pb_grpc.FlagsServiceStub(channel)
            flag = admin.GetFlag(
                pb.GetFlagRequest(flag_set_id=ALL_FLAGS, flag_key=CHANGING_FLAG),
                timeout=CALL_TIMEOUT,
            ).flag
            flag.default_variant = "bar" if flag.default_variant == "foo" else "foo"
            request = pb.UpdateFlagRequest(flag_set_id=ALL_FLAGS, flag=flag, author="launchpad")
            admin.UpdateFlag(request, timeout=CALL_TIMEOUT)
        self._dirty = True

    def restart(self, seconds: float) -> None:
        """Stops the server now and starts it again in `seconds`; returns at once."""
        self._await_restart()
        with self._lock:
            self._run(self._stop_server())
            config = self._config
            assert config is not None
            self._restart = threading.Timer(seconds, self._come_back)
            self._restart.start()

    def start_forbidden(self) -> None:
        if self._forbidden is None:
            self._forbidden = self._run(self._serve_forbidden())

    def close(self) -> None:
        self._await_restart()
        self._run(self._stop())
        if self._forbidden is not None:
            self._run(self._forbidden.stop(0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT)
        self._loop.close()

    def _come_back(self) -> None:
        with self._lock:
            assert self._config is not None
            self._run(self._serve(self._config, fresh=False))

    def _await_restart(self) -> None:
        if self._restart is not None:
            self._restart.join()
            self._restart = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    async def _serve(self, config: str, *, fresh: bool = True) -> None:
        """The service for `config`: built anew each time (metrics and all), on the config's
        database, as flagd restarted on its files would be."""
        directory = self._workdir / config
        directory.mkdir(parents=True, exist_ok=True)
        settings = FlagsSettings(
            grpc_host="127.0.0.1",
            sqlite_path=directory / "flags.sqlite3",
            poll_interval_seconds=0.5,
            **launchpad_settings(config, directory),
        )
        self._service = build(settings, registry=CollectorRegistry())
        if fresh:
            self._dirty = False
        server = create_server(self._service.app, address=f"127.0.0.1:{self.port}")
        await server.start()
        self._server = server

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace=0)

    async def _stop(self) -> None:
        await self._stop_server()
        self._config = None

    async def _reset(self) -> None:
        """The flags as the files have them (what the launchpad's restart on its files does)."""
        assert self._service is not None
        assert self._config is not None
        values = launchpad_settings(self._config, self._workdir / self._config)
        for entry in values["source_files"]:
            source = SourceFile.parse(entry)
            document, _ = parse_document(source.path.read_text())
            assert document is not None
            await self._service.store.write(
                source.name,
                edits.replace(document),
                kind=RevisionKind.IMPORT,
                by=Authorship("launchpad", "reset for the next scenario"),
            )
        self._dirty = False

    async def _serve_forbidden(self) -> grpc.aio.Server:
        server = grpc.aio.server(handlers=[_Forbidden()])
        server.add_insecure_port(f"127.0.0.1:{self.forbidden_port}")
        await server.start()
        return server


class _Forbidden(grpc.GenericRpcHandler):
    """Every method answers PERMISSION_DENIED, as a proxy refusing the client would."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "forbidden")

        return grpc.unary_unary_rpc_method_handler(deny)


__all__ = ["LocalLaunchpad"]
