"""Vault reaches the services that read secrets: the router's provider keys (rotated while it
runs), the gateway's key pepper and the cost service's alert-webhook signing secret."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from gateway.app import build as build_gateway
from gateway.keys.hashing import KeyHasher
from gateway.settings import GatewaySettings
from services.cost.app import _webhook
from services.cost.settings import CostSettings
from services.router.app import build as build_router
from services.router.settings import RouterSettings
from svckit.testing import serving
from tests.router.conftest import Upstream, catalogue, openai_deployment
from tests.router.conftest import openai_upstream as openai_upstream  # the fixture
from tests.router.service_calls import ask

from .conftest import MOUNT, Vault

OLD_KEY = "sk-provider-before-rotation-1a2b"
NEW_KEY = "sk-provider-after-rotation-3c4d"


def vault_environ(vault: Vault, service: str, **extra: str) -> dict[str, str]:
    token = vault.state.issue_token(0, renewable=False)
    return {
        f"{service}_VAULT_ADDR": vault.addr,
        f"{service}_VAULT_AUTH": "token",
        f"{service}_VAULT_TOKEN_FILE": vault.file(f"{service.lower()}-token", token),
        **extra,
    }


async def test_a_rotated_provider_key_reaches_the_running_router(
    vault: Vault, openai_upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.state.put(MOUNT, "switchboard/router", {"UP_KEY": OLD_KEY})
    models = tmp_path / "models.yaml"
    deployment = openai_deployment("primary", openai_upstream, api_key_secret="UP_KEY")
    models.write_text(catalogue("gpt", deployment))
    settings = RouterSettings(
        grpc_host="127.0.0.1", models_file=models, sqlite_path=tmp_path / "router.sqlite3"
    )
    environ = vault_environ(vault, "ROUTER", ROUTER_VAULT_CACHE_SECONDS="30")
    service = build_router(
        settings, environ=environ, registry=CollectorRegistry(), clock=vault.clock
    )
    sent: list[str] = []
    async with serving(service.app) as (_, channel):
        stub = pb_grpc.RouterServiceStub(channel)
        openai_upstream.control.require_key = OLD_KEY
        await stub.Complete(ask("gpt"))
        sent.append(openai_upstream.control.last_request.headers["authorization"])
        # Rotation: Vault gets the new key and the provider stops accepting the old one.
        vault.state.put(MOUNT, "switchboard/router", {"UP_KEY": NEW_KEY})
        openai_upstream.control.require_key = NEW_KEY
        with pytest.raises(grpc.aio.AioRpcError) as before_ttl:
            await stub.Complete(ask("gpt"))
        vault.clock.advance(30)
        await stub.Complete(ask("gpt"))
        sent.append(openai_upstream.control.last_request.headers["authorization"])
    assert sent == [f"Bearer {OLD_KEY}", f"Bearer {NEW_KEY}"]
    assert before_ttl.value.code() == grpc.StatusCode.UNAVAILABLE
    assert OLD_KEY not in caplog.text
    assert NEW_KEY not in caplog.text
    assert NEW_KEY not in str(before_ttl.value.details())


def test_the_gateway_hashes_keys_with_the_pepper_held_in_vault(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pepper = "p" * 40
    vault.state.put(MOUNT, "switchboard/gateway", {"GATEWAY_KEY_PEPPER": pepper})
    for name, value in vault_environ(vault, "GATEWAY").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GATEWAY_KEY_PEPPER", raising=False)
    gateway = build_gateway(GatewaySettings(sqlite_path=tmp_path / "gateway.sqlite3"))
    expected = KeyHasher(pepper.encode()).digest("sk-some-key")
    assert gateway.keys._hasher.digest("sk-some-key") == expected


def test_the_cost_alert_webhook_signs_with_the_current_vault_secret(vault: Vault) -> None:
    vault.state.put(MOUNT, "switchboard/cost", {"COST_ALERT_WEBHOOK_SECRET": "whsec-one"})
    settings = CostSettings(alert_webhook_url="https://hooks.example/alerts")
    environ = vault_environ(vault, "COST", COST_VAULT_CACHE_SECONDS="0")
    webhook = _webhook(settings, environ)
    assert webhook is not None
    first = webhook._secret()
    vault.state.put(MOUNT, "switchboard/cost", {"COST_ALERT_WEBHOOK_SECRET": "whsec-two"})
    assert (first, webhook._secret()) == ("whsec-one", "whsec-two")


def test_without_the_secret_anywhere_the_cost_webhook_is_off(vault: Vault) -> None:
    vault.state.put(MOUNT, "switchboard/cost", {})
    settings = CostSettings(alert_webhook_url="https://hooks.example/alerts")
    assert _webhook(settings, vault_environ(vault, "COST")) is None
