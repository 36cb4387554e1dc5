"""The whole suite as it is deployed: `python -m services.ratelimit`, `services.cost`,
`services.router`, `services.prompts`, `services.flags` and `gateway`, each its own process, on
real Redis and PostgreSQL.

Every service keeps its Redis keys under the test's prefix (the cost service reads the router's
usage stream there), and router, cost, prompts, flags and gateway share one fresh PostgreSQL
database, as their tables (and migration histories) are prefixed by service. Tenants and keys
are made the way the platform team makes them, with the gateway's command-line tool against that
database and the same pepper, before the gateway starts.

The tiers are chosen for a wall clock, which these processes read: `pro` counts requests per
UTC day only, so its remaining count moves by exactly one a call (a day turns over only at
midnight), and `tiny` admits one request a minute, so its refusal comes within three calls even
when a minute turns over between two of them. `bulk` is for load tests: it never runs out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.service_process import ROOT, GatewayProcess, ServiceProcess, stop_all

PEPPER = "e2e-pepper-" + "p" * 32
PRICES = ROOT / "config" / "cost" / "prices.yaml"
TIERS = """
tiers:
  pro:
    requests_per_day: 1000
    tokens_per_minute: 1000000
  tiny:
    requests_per_minute: 1
  bulk:
    requests_per_day: 1000000
    tokens_per_minute: 1000000000
"""

TENANTS = ("platform", "acme", "globex")
KEYS = {
    "platform": ("platform", "ops", "pro", "admin"),
    "acme": ("acme", "alice", "pro", "inference,admin"),
    "globex": ("globex", "gus", "tiny", "inference,admin"),
    "bulk": ("platform", "load", "bulk", "inference"),
}
"""Key name: tenant, user, tier, scopes."""

CLI_TIMEOUT = 60.0


@dataclass(frozen=True)
class Backends:
    redis_url: str
    key_prefix: str
    postgres_url: str


@dataclass
class Suite:
    gateway: GatewayProcess
    keys: dict[str, str] = field(default_factory=dict)
    """Key name (KEYS) to its plaintext."""
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    """The gRPC services behind the gateway, by name (ratelimit, cost, router, prompts, flags)."""
    front: str | None = None
    """Where clients connect, when not to `gateway` itself (a balancer over its replicas)."""

    @property
    def origin(self) -> str:
        return self.front or self.gateway.origin

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base_url."""
        return f"{self.origin}/v1"

    @property
    def admin_url(self) -> str:
        return f"{self.origin}/admin"

    def auth(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[name]}"}


def environments(backends: Backends, tiers_file: Path) -> dict[str, dict[str, str]]:
    """Each service's variables; the gateway's addresses are added once the others run."""
    prefix = backends.key_prefix
    return {
        "ratelimit": {
            "RATELIMIT_REDIS_URL": backends.redis_url,
            "RATELIMIT_KEY_PREFIX": f"{prefix}rl:",
            "RATELIMIT_TIERS_FILE": str(tiers_file),
        },
        "cost": {
            "COST_REDIS_URL": backends.redis_url,
            "COST_KEY_PREFIX": f"{prefix}cost:",
            "COST_USAGE_STREAM": f"{prefix}router:usage",
            "COST_DATABASE_URL": backends.postgres_url,
            "COST_PRICES_FILE": str(PRICES),
        },
        "router": {
            "ROUTER_REDIS_URL": backends.redis_url,
            "ROUTER_KEY_PREFIX": f"{prefix}router:",
            "ROUTER_DATABASE_URL": backends.postgres_url,
        },
        "prompts": {"PROMPTS_DATABASE_URL": backends.postgres_url},
        "flags": {"FLAGS_DATABASE_URL": backends.postgres_url},
        "gateway": {
            "GATEWAY_DATABASE_URL": backends.postgres_url,
            "GATEWAY_KEY_PEPPER": PEPPER,
            "GATEWAY_SHUTDOWN_GRACE_SECONDS": "2",
        },
    }


def switchboard_cli(env: Mapping[str, str], *args: str) -> str:
    """Run `python -m gateway.keys.cli` (the `switchboard` tool); its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.keys.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:  # the key is on stdout only, which is not shown
        raise RuntimeError(f"switchboard {args[:2]} exited {done.returncode}: {done.stderr}")
    return done.stdout


def create_keys(env: Mapping[str, str]) -> dict[str, str]:
    """Every tenant, then every key of KEYS, each command in its own process (in parallel)."""
    with ThreadPoolExecutor(max_workers=len(KEYS)) as pool:
        list(pool.map(lambda tenant: switchboard_cli(env, "tenants", "create", tenant), TENANTS))
        made = pool.map(lambda spec: _create_key(env, *spec), KEYS.values())
        return dict(zip(KEYS, made, strict=True))


def _create_key(env: Mapping[str, str], tenant: str, user: str, tier: str, scopes: str) -> str:
    out = switchboard_cli(
        env, "keys", "create", "--tenant", tenant, "--user", user, "--tier", tier,
        "--scopes", scopes,
    )  # fmt: skip
    return out.strip()


@contextmanager
def running_suite(
    backends: Backends,
    tmp_path: Path,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Suite]:
    """Start the five services and the keys at once, then the gateway; stop all after,
    failing the test if any of them did not exit 0 on SIGTERM. `overrides`: service name to
    variables added to its environment (a router catalogue, a pool size)."""
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    env = environments(backends, tiers)
    for name, variables in (overrides or {}).items():
        env[name].update(variables)
    services = {
        name: ServiceProcess(env[name], tmp_path / f"{name}.log", name)
        for name in ("ratelimit", "cost", "router", "prompts", "flags")
    }
    running: list[ServiceProcess] = list(services.values())
    try:
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            starts = [pool.submit(service.start) for service in services.values()]
            keys = create_keys(env["gateway"])
            for start in starts:
                start.result()
        gateway = GatewayProcess(
            {
                **env["gateway"],
                "GATEWAY_RATELIMIT_ADDR": services["ratelimit"].address,
                "GATEWAY_COST_ADDR": services["cost"].address,
                "GATEWAY_ROUTER_ADDR": services["router"].address,
                "GATEWAY_PROMPTS_ADDR": services["prompts"].address,
                "GATEWAY_FLAGS_ADDR": services["flags"].address,
            },
            tmp_path / "gateway.log",
        )
        running.append(gateway)
        gateway.start()
        yield Suite(gateway, keys, dict(services))
    finally:
        stop_all(running)


__all__ = ["KEYS", "Backends", "Suite", "create_keys", "environments", "running_suite"]
