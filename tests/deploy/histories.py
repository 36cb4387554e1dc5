"""Every service's migration history, with the module that defines it (for a subprocess)."""

from __future__ import annotations

from gateway.migrations import MIGRATIONS as GATEWAY
from services.cost.database import MIGRATIONS as COST
from services.flags.database import MIGRATIONS as FLAGS
from services.prompts.database import MIGRATIONS as PROMPTS
from services.router.jobs.schema import MIGRATIONS as ROUTER
from svckit.sql import Migrations

HISTORIES: dict[str, tuple[str, Migrations]] = {
    "cost": ("services.cost.database", COST),
    "router": ("services.router.jobs.schema", ROUTER),
    "flags": ("services.flags.database", FLAGS),
    "prompts": ("services.prompts.database", PROMPTS),
    "gateway": ("gateway.migrations", GATEWAY),
}
