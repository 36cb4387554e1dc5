"""Where provider keys come from: a source that maps a secret's name to its value.

The source is the service kit's (`svckit.secrets`): Vault's KV v2 when `ROUTER_VAULT_ADDR` is
set, the environment otherwise and for names Vault does not hold. A key is read at call time so
a rotated secret is used without a restart (after Vault's cache TTL, `ROUTER_VAULT_CACHE_SECONDS`),
and it never enters a log, a metric or an error.
"""

from __future__ import annotations

from svckit.secrets import EnvironmentSecrets, SecretSource, secrets_from_environment

__all__ = ["EnvironmentSecrets", "SecretSource", "secrets_from_environment"]
