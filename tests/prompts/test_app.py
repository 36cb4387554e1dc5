"""The service as deployed: settings from the environment, migrations, the process itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from gateway.transcoding.http_rules import Matched, RouteTable, routes_of
from services.prompts.app import database_url
from services.prompts.database import MIGRATIONS, migrate
from services.prompts.settings import PromptsSettings, load
from services.prompts.tables import metadata
from svckit.settings import SettingsError
from svckit.sql import create_engine
from tests.service_process import ServiceProcess, stop_all

from .prompt_calls import text_version


def test_settings_come_from_prompts_variables_with_documented_defaults() -> None:
    defaults = load({})
    custom = load(
        {
            "PROMPTS_GRPC_PORT": "6000",
            "PROMPTS_DATABASE_URL": "postgresql+asyncpg://db/prompts",
            "PROMPTS_MAX_TEMPLATE_BYTES": "2048",
            "PROMPTS_PORT": "tcp://10.0.0.1:50055",  # a Kubernetes service link: ignored
        }
    )

    assert (defaults.grpc_port, defaults.metrics_port) == (50055, 9055)
    assert defaults.max_template_bytes == 65_536
    assert database_url(defaults) == "sqlite+aiosqlite:///.run/prompts.sqlite3"
    assert (custom.grpc_port, custom.max_template_bytes) == (6000, 2048)
    assert database_url(custom) == "postgresql+asyncpg://db/prompts"


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load({"PROMPTS_MAX_TEMPLATE_BYTES": "0", "PROMPTS_CHANGE_POLL_SECONDS": "soon"})

    assert {p.split(":")[0] for p in caught.value.problems} == {
        "PROMPTS_MAX_TEMPLATE_BYTES",
        "PROMPTS_CHANGE_POLL_SECONDS",
    }


def _url(database: dict[str, Any]) -> str:
    return database_url(PromptsSettings(**database))


async def test_migrations_reach_head_concurrently_and_match_the_tables(
    database: dict[str, Any],
) -> None:
    url = _url(database)
    assert await MIGRATIONS.current_revision(url) is None

    await asyncio.gather(migrate(url), migrate(url))
    await migrate(url)

    assert await MIGRATIONS.current_revision(url) == "0001_initial"

    def differences(sync: Connection) -> list[object]:
        opts = {"version_table": MIGRATIONS.version_table}
        return list(compare_metadata(MigrationContext.configure(sync, opts=opts), metadata))

    engine = create_engine(url)
    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    await engine.dispose()


def test_every_admin_rpc_has_a_rest_route_and_the_stream_has_none() -> None:
    service = pb.DESCRIPTOR.services_by_name["PromptService"]

    routes = routes_of(service)  # what the gateway builds at start-up; raises on a bad rule
    table = RouteTable(routes)

    unary = {m.name for m in service.methods if not m.server_streaming}
    assert {r.method.name for r in routes} == unary
    assert "WatchPromptChanges" not in {r.method.name for r in routes}
    found = table.lookup("POST", "/v1/prompts/support/triage/v2:render")
    assert found is not None
    assert not hasattr(found, "allowed")
    assert isinstance(found, Matched)
    assert found.path_params == {"name": "support/triage/v2"}


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        stop_all(started)


@pytest.mark.slow
async def test_the_service_runs_as_its_container_does(
    database: dict[str, Any], tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    env = {"PROMPTS_HEALTH_PROBE_INTERVAL_SECONDS": "0.1", "PROMPTS_SHUTDOWN_GRACE_SECONDS": "1"}
    if "database_url" in database:
        env["PROMPTS_DATABASE_URL"] = database["database_url"]
    else:
        env["PROMPTS_SQLITE_PATH"] = str(database["sqlite_path"])
    service = ServiceProcess(env, tmp_path / "prompts.log", "prompts")
    processes.append(service)
    service.start()  # waits for SERVING

    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = pb_grpc.PromptServiceStub(channel)
        created = await stub.CreatePromptVersion(text_version("p", "hi {{ who }}"))
        watch = stub.WatchPromptChanges(pb.WatchPromptChangesRequest())
        assert (await watch.read()).sequence > 0
        assert service.metric("grpc_server_handled_total") >= 1
        service.terminate()
        # A watch stream ends when the drain's grace is over: the client reconnects elsewhere.
        try:
            ended: object = await asyncio.wait_for(watch.read(), 20)
        except grpc.aio.AioRpcError as exc:
            ended = exc.code()

    assert created.version.type == res.PROMPT_TYPE_TEXT
    assert ended in (grpc.aio.EOF, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert service.wait() == 0
