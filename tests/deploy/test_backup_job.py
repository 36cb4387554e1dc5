"""The backup CronJob's command, run as written (paths and interpreter rewritten to the test's)
against a real PostgreSQL holding every service's migrated schema: it dumps each database,
verifies each dump by a scratch restore, and prunes, exiting 0."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.backends import missing_backend
from tests.conftest import POSTGRES_ADMIN_URL
from tests.deploy.histories import HISTORIES
from tests.deploy.manifests import ROOT, container_env, main_container, named, render


async def test_the_cron_jobs_command_dumps_verifies_and_prunes_every_database(
    tmp_path: Path, postgres_url: str
) -> None:
    if shutil.which("pg_dump") is None:
        missing_backend("pg_dump is not installed (postgresql-client)")
    for _, migrations in HISTORIES.values():
        await migrations.migrate(postgres_url)
    objects = render("prod")
    container = main_container(named(objects, "CronJob", "backup"))
    shell, flags, script = container["command"]
    script = script.replace("/backups", str(tmp_path)).replace("python -m", f"{sys.executable} -m")
    scratch = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    values = {"BACKUP_SCRATCH_URL": scratch.render_as_string(hide_password=False)}
    environ = {
        var.name: values.get(var.name, postgres_url) for var in container_env(objects, container)
    }
    process = await asyncio.create_subprocess_exec(
        shell,
        flags,
        script,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **environ},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, output.decode()[-3000:]
    for service in HISTORIES:
        assert list((tmp_path / service).glob(f"{service}-*.pgdump")), service
