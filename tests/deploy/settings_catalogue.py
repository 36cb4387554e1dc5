"""What each workload reads from its environment, derived from the settings classes.

For a settings model loaded with prefix P, field `f` is read from `P_F` (svckit.settings). Beside
those, a container may carry the secrets its settings name (fields `*_secret_name`, whose default
is the variable read through the secret source), the provider keys its model catalogue names
(`api_key_secret`), the secrets source's `<PREFIX>_VAULT_*` (svckit.secrets.VaultSettings, read
with the service's prefix), and the standard OpenTelemetry variables svckit.telemetry and the
SDK read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.settings import GatewaySettings
from gateway.settings import load as load_gateway
from services.cost.settings import CostSettings
from services.cost.settings import load as load_cost
from services.flags.settings import FlagsSettings
from services.flags.settings import load as load_flags
from services.prompts.settings import PromptsSettings
from services.prompts.settings import load as load_prompts
from services.ratelimit.settings import RateLimitSettings
from services.ratelimit.settings import load as load_ratelimit
from services.router.settings import RouterSettings
from services.router.settings import load as load_router
from svckit.secrets import VaultSettings
from svckit.settings import env_name

OTEL_VARIABLES = frozenset(
    {
        "OTEL_SERVICE_NAME",
        "OTEL_SDK_DISABLED",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    }
)


@dataclass(frozen=True)
class Reader:
    model: type[BaseModel]
    prefix: str
    load: Callable[[Mapping[str, str]], Any]

    def variables(self) -> frozenset[str]:
        return frozenset(env_name(self.prefix, field) for field in self.model.model_fields)

    def vault_variables(self) -> frozenset[str]:
        return frozenset(env_name(self.prefix, field) for field in VaultSettings.model_fields)

    def secret_names(self) -> frozenset[str]:
        return frozenset(
            str(info.default)
            for field, info in self.model.model_fields.items()
            if field.endswith("_secret_name")
        )


READERS: dict[str, Reader] = {
    "ratelimit": Reader(RateLimitSettings, "RATELIMIT", load_ratelimit),
    "cost": Reader(CostSettings, "COST", load_cost),
    "router": Reader(RouterSettings, "ROUTER", load_router),
    "flags": Reader(FlagsSettings, "FLAGS", load_flags),
    "prompts": Reader(PromptsSettings, "PROMPTS", load_prompts),
    "gateway": Reader(GatewaySettings, "GATEWAY", load_gateway),
}


def allowed_variables(workload: str, provider_keys: frozenset[str] = frozenset()) -> frozenset[str]:
    reader = READERS[workload]
    own = reader.variables() | reader.vault_variables() | reader.secret_names()
    return own | provider_keys | OTEL_VARIABLES


def every_settings_variable() -> frozenset[str]:
    return frozenset().union(*(reader.variables() for reader in READERS.values()))
