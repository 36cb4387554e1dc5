"""The whole suite in the test's process, over real sockets: the rate-limit, cost, router,
prompt and flag services on gRPC port 0 (embedded backends; the router's built-in mock provider, and
`fake-gpt` served by the tests' fake OpenAI upstream, which records what it was sent), and the
gateway over HTTP on a loopback port, with tenants and keys made in its database.

The rate limiter and the gateway share a fake clock fixed inside one minute, so a window never
rolls over during a test; the cost service and the router keep real time (the ledger and the
budgets' periods are real-time concerns that the tests do not move).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from gateway.app import Gateway, build
from gateway.keys.model import NewKey
from gateway.settings import GatewaySettings
from services.cost.app import build as build_cost
from services.cost.settings import CostSettings
from services.flags.app import build as build_flags
from services.flags.settings import FlagsSettings
from services.prompts.app import build as build_prompts
from services.prompts.settings import PromptsSettings
from services.ratelimit.app import build as build_ratelimit
from services.ratelimit.settings import load as load_ratelimit
from services.router.app import build as build_router
from services.router.settings import RouterSettings
from svckit.testing import serving
from tests.router.upstreams.control import FakeUpstreamControl
from tests.router.upstreams.openai_fake import fake_openai_app
from tests.router.upstreams.serving import serve_upstream

ROOT = Path(__file__).resolve().parents[3]
PRICES = ROOT / "config" / "cost" / "prices.yaml"
PEPPER = "test-pepper-" + "p" * 32
START = 1_736_164_815.0
"""2025-01-06 12:00:15 UTC: the rate limiter's minute has 45 s left."""

TIERS = """
tiers:
  pro:
    requests_per_day: 1000
    requests_per_minute: 60
    tokens_per_minute: 200000
  tiny:
    requests_per_minute: 2
    tokens_per_minute: 100000
"""

MODELS = """
models:
  mock-gpt:
    strategy: ordered
    deployments:
      - name: mock-primary
        provider: mock
        upstream_model: mock-1
        options: {output_words: 100}
  fake-gpt:
    deployments:
      - name: fake-openai
        provider: openai
        upstream_model: fake-1
        base_url: {fake_base_url}
        max_retries: 0
"""
FAKE_PRICE = """
  - provider: openai
    model: fake-1
    valid_from: "2025-01-01T00:00:00Z"
    currency: USD
    input_per_million: "1.00"
    output_per_million: "2.00"
"""

KEYS = {
    "platform": NewKey("platform", "ops", "pro", frozenset({"inference", "admin"}), "platform"),
    "acme": NewKey("acme", "alice", "pro", frozenset({"inference"}), "acme app"),
    "acme-admin": NewKey("acme", "alice", "pro", frozenset({"admin"}), "acme admin"),
    "acme-tiny": NewKey("acme", "tina", "tiny", frozenset({"inference"}), "acme tiny"),
    "globex": NewKey("globex", "gus", "pro", frozenset({"inference", "admin"}), "globex"),
}


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Stack:
    origin: str
    """http://127.0.0.1:<port>"""
    gateway: Gateway
    upstream: FakeUpstreamControl = field(default_factory=FakeUpstreamControl)
    """What `fake-gpt`'s upstream was sent."""
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base_url."""
        return f"{self.origin}/v1"

    def auth(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[name]}"}


@asynccontextmanager
async def running_stack(tmp_path: Path, **gateway: str) -> AsyncIterator[Stack]:
    """`gateway`: settings of the gateway's beyond the addresses (`experiment_flags=...`)."""
    clock = FakeClock()
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    upstream = FakeUpstreamControl()
    async with serve_upstream(fake_openai_app(upstream)) as fake_base_url:
        models = tmp_path / "models.yaml"
        models.write_text(MODELS.replace("{fake_base_url}", fake_base_url))
        prices = tmp_path / "prices.yaml"
        prices.write_text(PRICES.read_text() + FAKE_PRICE)
        async with _services(tmp_path, clock, models, prices, gateway) as stack:
            stack.upstream = upstream
            yield stack


@asynccontextmanager
async def _services(
    tmp_path: Path, clock: FakeClock, models: Path, prices: Path, gateway_extra: dict[str, str]
) -> AsyncIterator[Stack]:
    tiers = tmp_path / "tiers.yaml"
    ratelimit = build_ratelimit(
        load_ratelimit({"RATELIMIT_TIERS_FILE": str(tiers)}),
        clock=clock,
        registry=CollectorRegistry(),
    )
    cost = build_cost(
        CostSettings(
            grpc_host="127.0.0.1",
            sqlite_path=tmp_path / "cost.sqlite3",
            prices_file=str(prices),
        ),
        registry=CollectorRegistry(),
    )
    prompts = build_prompts(
        PromptsSettings(grpc_host="127.0.0.1", sqlite_path=tmp_path / "prompts.sqlite3"),
        registry=CollectorRegistry(),
    )
    flags = build_flags(
        FlagsSettings(grpc_host="127.0.0.1", sqlite_path=tmp_path / "flags.sqlite3"),
        registry=CollectorRegistry(),
    )
    async with (
        serving(ratelimit.app) as (ratelimit_server, _),
        serving(cost.app) as (cost_server, _),
        serving(prompts.app) as (prompts_server, _),
        serving(flags.app) as (flags_server, _),
    ):
        cost_addr = f"127.0.0.1:{cost_server.port}"
        router = build_router(
            RouterSettings(
                grpc_host="127.0.0.1",
                models_file=models,
                sqlite_path=tmp_path / "router.sqlite3",
                cost_addr=cost_addr,
            ),
            environ={},
            registry=CollectorRegistry(),
        )
        async with serving(router.app) as (router_server, _):
            settings = GatewaySettings(
                ratelimit_addr=f"127.0.0.1:{ratelimit_server.port}",
                router_addr=f"127.0.0.1:{router_server.port}",
                cost_addr=cost_addr,
                prompts_addr=f"127.0.0.1:{prompts_server.port}",
                flags_addr=f"127.0.0.1:{flags_server.port}",
                sqlite_path=tmp_path / "gateway.sqlite3",
                **gateway_extra,  # type: ignore[arg-type]
            )
            gateway = build(settings, secrets=_Secrets(), clock=clock)
            await gateway.start()
            try:
                stack = await _with_keys(gateway)
                async with serve_upstream(gateway.app) as base:
                    stack.origin = base.removesuffix("/v1")
                    yield stack
            finally:
                await gateway.aclose()


class _Secrets:
    def get(self, name: str) -> str | None:
        return PEPPER if name == "GATEWAY_KEY_PEPPER" else None


async def _with_keys(gateway: Gateway) -> Stack:
    stack = Stack("", gateway)
    for tenant in ("platform", "acme", "globex"):
        await gateway.keys.create_tenant(tenant)
    for name, spec in KEYS.items():
        created = await gateway.keys.create_key(spec)
        stack.keys[name] = created.plaintext
        stack.key_ids[name] = created.key.id
    return stack


__all__ = ["KEYS", "START", "FakeClock", "Stack", "running_stack"]
