"""Decision checked here: no migration Job. Every replica migrates its service's schema at
start-up under a PostgreSQL advisory lock (svckit.sql.Migrations), so replicas starting
together migrate one after the other and the later ones find the schema at head. In the dev
overlay all services share one database, so the histories must not collide either: distinct
lock keys and version tables, and every service starting twice at once succeeds.

Each service runs in a process of its own, as in the cluster (two replicas of one service are
two coroutines of that process: the lock orders them the same way). Alembic's `context` is
process-global, so different services' histories never migrate in one process at once.
"""

from __future__ import annotations

import asyncio
import sys

from tests.deploy.histories import HISTORIES
from tests.deploy.manifests import ROOT

TWO_REPLICAS = """
import asyncio, sys
from {module} import MIGRATIONS
async def main() -> None:
    await asyncio.gather(MIGRATIONS.migrate(sys.argv[1]), MIGRATIONS.migrate(sys.argv[1]))
asyncio.run(main())
"""


def test_each_history_has_its_own_lock_and_version_table() -> None:
    histories = [m for _, m in HISTORIES.values()]
    assert len({m.lock_key for m in histories}) == len(histories)
    assert len({m.version_table for m in histories}) == len(histories)


async def test_every_service_starting_twice_at_once_on_one_shared_database(
    postgres_url: str,
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TWO_REPLICAS.format(module=module),
            postgres_url,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        for module, _ in HISTORIES.values()
    ]
    for (name, _), process in zip(HISTORIES.items(), processes, strict=True):
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, f"{name}: {stderr.decode()[-2000:]}"
    for name, (_, migrations) in HISTORIES.items():
        assert await migrations.current_revision(postgres_url) is not None, name
