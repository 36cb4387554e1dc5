"""Where provider keys come from: a source that maps a secret's name to its value.

The environment now; Vault joins later behind the same protocol. A key is read at call time so
a rotated secret is used without a restart, and it never enters a log, a metric or an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class SecretSource(Protocol):
    def get(self, name: str) -> str | None:
        """The secret's current value, or None when it is not set."""
        ...


class EnvironmentSecrets:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        return self._environ.get(name) or None
