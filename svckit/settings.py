"""Settings read once per service from its environment variables, frozen, failing fast.

Each service declares one pydantic model (fields in snake_case, defaults included) and loads it
with `load_settings(Model, "RATELIMIT", os.environ)`: field `redis_url` comes from
`RATELIMIT_REDIS_URL`. Every missing or bad variable is reported at once in one
`SettingsError`, so a broken deployment shows all of its mistakes in the first crash log.

Unknown variables with the prefix are not an error: Kubernetes injects service links such as
`RATELIMIT_PORT=tcp://...` into every pod of a namespace that has a `ratelimit` Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SettingsT = TypeVar("SettingsT", bound=BaseModel)


class SettingsError(Exception):
    """The environment does not describe a valid configuration; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = problems


class ServiceSettings(BaseModel):
    """What every service shares; subclasses add their own fields and defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grpc_host: str = "0.0.0.0"
    grpc_port: int = 0
    metrics_port: int = 0
    log_level: str = "INFO"
    # Seconds in-flight calls get to finish after SIGTERM before they are cancelled. Bounded:
    # a negative grace would drop every call at once and nan or inf never end the drain.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False)


def env_name(prefix: str, field: str) -> str:
    return f"{prefix}_{field.upper()}"


def load_settings(model: type[SettingsT], prefix: str, environ: Mapping[str, str]) -> SettingsT:
    """Build `model` from `environ`; raise SettingsError naming every bad variable."""
    values = {
        field: environ[env_name(prefix, field)]
        for field in model.model_fields
        if env_name(prefix, field) in environ
    }
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, prefix)) from None


def _describe(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        name = env_name(prefix, location) if location else prefix
        problems.append(f"{name}: {error['msg']}")
    return problems


__all__ = ["ServiceSettings", "SettingsError", "env_name", "load_settings"]
