"""Alembic environment of the router's schema, for async database URLs.

`services.router.jobs.schema.migrate` hands over an open connection in
`config.attributes["connection"]`; run without one (from a script), the environment opens an
async engine from `config.attributes["database_url"]` and migrates through `run_sync`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.router.jobs.tables import Base

config = context.config
VERSION_TABLE = config.attributes.get("version_table", "router_alembic_version")


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(config.attributes["database_url"])
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_with)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the router's migrations run online only")

given = config.attributes.get("connection")
if given is None:
    asyncio.run(run_async())
else:
    run_with(given)
