"""Which database a backup is of: a URL as the services take it, or a service's environment.

`<SERVICE>_DATABASE_URL` (SQLAlchemy form, `postgresql+asyncpg://...`; plain `postgresql://`
works too) selects PostgreSQL; when it is empty the service runs embedded and the database is
the SQLite file at `<SERVICE>_SQLITE_PATH` (default `.run/<service>.sqlite3`), exactly as the
services decide. Backups are per database URL: in tests the services' tables may share one
database, in production each service has its own; backing up two services that share a URL
simply dumps the same database under two names.

The password never goes on a command line (other users could read it in `ps`): tools get the
URL without it and the password in `PGPASSWORD`; `redacted` is the form for messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from scripts.backup_archive import BackupError, Kind

SERVICES = ("cost", "router", "flags", "prompts", "gateway")


@dataclass(frozen=True)
class Target:
    kind: Kind
    url: URL | None = None  # PostgreSQL
    path: Path | None = None  # SQLite

    @property
    def libpq_url(self) -> str:
        """The URL for pg_dump, pg_restore and asyncpg, without the password."""
        assert self.url is not None
        url = self.url
        bare = URL.create(
            "postgresql", url.username, None, url.host, url.port, url.database, url.query
        )
        return bare.render_as_string(hide_password=False)

    @property
    def password(self) -> str | None:
        return None if self.url is None or self.url.password is None else str(self.url.password)

    def with_database(self, name: str) -> Target:
        assert self.url is not None
        return Target("postgresql", url=self.url.set(database=name))

    @property
    def redacted(self) -> str:
        if self.url is not None:
            return self.url.set(drivername="postgresql").render_as_string(hide_password=True)
        return f"sqlite:///{self.path}"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the password as `PGPASSWORD`, for the PostgreSQL client tools."""
        env = dict(base)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def target_of_url(text: str) -> Target:
    try:
        url = make_url(text)
    except ArgumentError:
        raise BackupError("not a database URL (postgresql://... or sqlite:///path)") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if not url.database:
            raise BackupError(f"{url.render_as_string()}: the URL names no database")
        return Target("postgresql", url=url)
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return Target("sqlite", path=Path(url.database))
    raise BackupError(f"{backend}: only PostgreSQL and SQLite files can be backed up")


def target_of_service(service: str, environ: Mapping[str, str]) -> Target:
    """The database `service` uses with `environ`, decided as the service decides it."""
    if service not in SERVICES:
        raise BackupError(f"{service}: not a service with a database ({', '.join(SERVICES)})")
    prefix = service.upper()
    url = environ.get(f"{prefix}_DATABASE_URL", "")
    if url:
        return target_of_url(url)
    path = environ.get(f"{prefix}_SQLITE_PATH") or f".run/{service}.sqlite3"
    return Target("sqlite", path=Path(path))
