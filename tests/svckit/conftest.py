"""Fixtures of the service kit's tests: a Vault double on loopback and the files a pod mounts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ratelimit.fake_clock import FakeClock

from .vault_double import VaultState, serving_vault

MOUNT = "secret"
PATH = "switchboard/demo"


@dataclass
class Vault:
    state: VaultState
    addr: str
    clock: FakeClock
    files: Path

    def file(self, name: str, content: str) -> str:
        path = self.files / name
        path.write_text(content + "\n")
        return str(path)

    def token_environ(self, **extra: str) -> dict[str, str]:
        """`DEMO_VAULT_*` for token auth with a fresh non-expiring token."""
        token = self.state.issue_token(0, renewable=False)
        return {
            "DEMO_VAULT_ADDR": self.addr,
            "DEMO_VAULT_AUTH": "token",
            "DEMO_VAULT_TOKEN_FILE": self.file("token", token),
            **extra,
        }


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    clock = FakeClock(1_000.0)
    state = VaultState(clock=clock)
    files = tmp_path / "vault-files"
    files.mkdir()
    with serving_vault(state) as addr:
        yield Vault(state, addr, clock, files)
