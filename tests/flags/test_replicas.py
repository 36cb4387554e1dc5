"""Several `python -m services.flags` processes on one database, as replicas run: a change made
through one reaches the streams of the others (PostgreSQL: NOTIFY, with polling an hour apart
so nothing else could bring it; SQLite: polling of the shared file), concurrent writers on
different replicas lose nothing, and a replica stops cleanly with streams open."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2 as v2
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2_grpc as v2_grpc
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2, sync_pb2_grpc
from switchboard.flags.v1 import flags_service_pb2 as pb
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from tests.service_process import ROOT, ServiceProcess, stop_all

from .flag_calls import flag_message, import_set
from .flag_data import CHECKOUT, boolean_flag

pytestmark = pytest.mark.slow
WAIT = 20.0


async def read(stream: object) -> object:
    async with asyncio.timeout(WAIT):
        return await stream.read()  # type: ignore[attr-defined]


async def follow_a_change(replicas: list[ServiceProcess]) -> None:
    first, second = replicas
    async with (
        grpc.aio.insecure_channel(first.address) as a,
        grpc.aio.insecure_channel(second.address) as b,
    ):
        admin = pb_grpc.FlagsServiceStub(a)
        await import_set(admin, "checkout", CHECKOUT)
        sync = sync_pb2_grpc.FlagSyncServiceStub(b).SyncFlags(sync_pb2.SyncFlagsRequest())
        initial = json.loads((await read(sync)).flag_configuration)  # type: ignore[attr-defined]
        if "banner" not in initial["flags"]:  # B had not seen the import yet: it will
            initial = json.loads((await read(sync)).flag_configuration)  # type: ignore[attr-defined]
        # Opened once B has the import, so its first change is the update below.
        events = v2_grpc.ServiceStub(b).EventStream(v2.EventStreamRequest())
        assert (await read(events)).type == "provider_ready"  # type: ignore[attr-defined]

        flag = flag_message("banner", {**CHECKOUT["flags"]["banner"], "defaultVariant": "blue"})
        await admin.UpdateFlag(pb.UpdateFlagRequest(flag_set_id="checkout", flag=flag, author="a"))
        snapshot = json.loads((await read(sync)).flag_configuration)  # type: ignore[attr-defined]
        event = await read(events)
        sync.cancel()
        events.cancel()

    assert initial["flags"]["banner"]["defaultVariant"] == "red"
    assert snapshot["flags"]["banner"]["defaultVariant"] == "blue"
    assert event.type == "configuration_change"  # type: ignore[attr-defined]
    assert MessageToDict(event.data) == {"flags": {"banner": {"type": "update"}}}  # type: ignore[attr-defined]


def replicas(env: dict[str, str], tmp_path: Path, count: int = 2) -> list[ServiceProcess]:
    return [ServiceProcess(env, tmp_path / f"flags-{i}.log", "flags") for i in range(count)]


async def test_postgresql_replicas_follow_each_others_changes_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    running = replicas(
        {"FLAGS_DATABASE_URL": postgres_url, "FLAGS_POLL_INTERVAL_SECONDS": "3600"}, tmp_path
    )
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in running))
        await follow_a_change(running)
    finally:
        await asyncio.to_thread(stop_all, running)


async def test_replicas_on_one_sqlite_file_follow_by_polling(tmp_path: Path) -> None:
    env = {"FLAGS_SQLITE_PATH": str(tmp_path / "shared.db"), "FLAGS_POLL_INTERVAL_SECONDS": "0.1"}
    running = replicas(env, tmp_path)
    try:
        running[0].start()  # one migrates first: SQLite has no advisory lock across processes
        running[1].start()
        await follow_a_change(running)
    finally:
        await asyncio.to_thread(stop_all, running)


async def test_writers_on_different_replicas_lose_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    running = replicas({"FLAGS_DATABASE_URL": postgres_url}, tmp_path, count=3)
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in running))
        channels = [grpc.aio.insecure_channel(r.address) for r in running]
        stubs = [pb_grpc.FlagsServiceStub(c) for c in channels]
        await stubs[0].CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="shared", author="a"))
        await asyncio.gather(
            *(
                stubs[i % 3].CreateFlag(
                    pb.CreateFlagRequest(
                        flag_set_id="shared",
                        flag=flag_message(f"f{i}", boolean_flag()),
                        author=f"w{i}",
                    )
                )
                for i in range(30)
            )
        )
        got = await stubs[2].GetFlagSet(pb.GetFlagSetRequest(flag_set_id="shared"))
        audit = await stubs[1].ListRevisions(pb.ListRevisionsRequest(flag_set_id="shared"))
        for channel in channels:
            await channel.close()
    finally:
        await asyncio.to_thread(stop_all, running)

    assert len(got.flag_set.flags) == 30
    assert [r.revision for r in audit.revisions] == list(range(31, 0, -1))


async def test_a_replica_stops_cleanly_while_clients_hold_streams(tmp_path: Path) -> None:
    running = replicas({"FLAGS_SQLITE_PATH": str(tmp_path / "f.db")}, tmp_path, count=1)
    running[0].start()
    try:
        async with grpc.aio.insecure_channel(running[0].address) as channel:
            events = v2_grpc.ServiceStub(channel).EventStream(v2.EventStreamRequest())
            assert (await read(events)).type == "provider_ready"  # type: ignore[attr-defined]
            running[0].terminate()
            last = await read(events)
            end = await read(events)
            code = await asyncio.to_thread(running[0].wait)
    finally:
        await asyncio.to_thread(stop_all, running)  # fails the test unless it exited 0

    assert last.type == "provider_shutdown"  # type: ignore[attr-defined]
    assert end is grpc.aio.EOF
    assert code == 0


def test_a_bad_source_file_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"flags": {"f": boolean_flag(default="maybe")}}))
    env = {
        "FLAGS_SOURCE_FILES": f"bad={bad}",
        "FLAGS_SQLITE_PATH": str(tmp_path / "f.db"),
        "FLAGS_GRPC_PORT": "0",
        "FLAGS_METRICS_PORT": "0",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.flags"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 2
    assert "'maybe' is not one of the variants" in done.stderr


def test_bad_settings_stop_the_start_naming_each(tmp_path: Path) -> None:
    env = {"FLAGS_STATIC_CONTEXT": "{not json", "FLAGS_GRPC_PORT": "-1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "services.flags"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 2
    assert "FLAGS_STATIC_CONTEXT" in done.stderr
    assert "FLAGS_GRPC_PORT" in done.stderr
