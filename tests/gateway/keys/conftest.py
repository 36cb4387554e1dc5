"""Fixtures of the key tests: one behavioural suite for the key store on SQLite (a file in the
test's tmp dir) and on PostgreSQL (a fresh database), with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.keys.hashing import KeyHasher
from gateway.keys.model import NewKey
from gateway.keys.store import KeyStore
from gateway.migrations import migrate
from svckit.sql import create_engine

START = 1_736_164_800.0
"""2025-01-06 12:00:00 UTC, where the tests' clocks start."""

PEPPER = b"test-pepper-" + b"p" * 32


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def new_key(tenant: str = "acme", scopes: frozenset[str] = frozenset({"inference"})) -> NewKey:
    return NewKey(tenant=tenant, user="u1", tier="pro", scopes=scopes, name="backend")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hasher() -> KeyHasher:
    return KeyHasher(PEPPER)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(database_url: str, hasher: KeyHasher, clock: FakeClock) -> AsyncIterator[KeyStore]:
    await migrate(database_url)
    key_store = KeyStore(create_engine(database_url), hasher, clock=clock)
    yield key_store
    await key_store.engine.dispose()


@pytest.fixture
async def tenants(store: KeyStore) -> None:
    """Three tenants: two customers and the platform team."""
    await store.create_tenant("acme", "Acme Corp")
    await store.create_tenant("globex", "Globex")
    await store.create_tenant("platform", "Platform team")
