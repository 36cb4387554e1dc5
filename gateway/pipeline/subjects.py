"""The rate-limit subjects of a key: the key itself, its user and its tenant, each limited by
the key's tier (a tier is a plan: the tenant bought it, its keys carry it).

A user name is unique only inside its tenant (two tenants may each have a "bob"), so a user is
always named with its tenant: `users/<tenant>:<user>`. That one form is the user's rate-limit
subject here, its budget scope in the cost service (`services/cost/usage.py`) and what the
admin API's confinement accepts from a tenant (`gateway/routes/confinement.py`). Tenant ids
are slugs (`[a-z0-9][a-z0-9_.-]*`, no ':'), so the first ':' always ends the tenant and the
user name may itself hold ':'.

Subject ids must fit the rate limiter's alphabet (`[A-Za-z0-9._~:@+=-]`, at most 200
characters). Key ids and tenant ids always do; a user subject that does not (the user name may
hold spaces, or be long) is left out of the check rather than failing the call: the key and the
tenant still bound it.
"""

from __future__ import annotations

import re

from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

from gateway.keys.model import ApiKey

USERS = "users/"
TENANT_SEPARATOR = ":"
"""Between the tenant and the user name in `users/<tenant>:<user>`."""

_SUBJECT_ID = re.compile(r"^[A-Za-z0-9._~:@+=\-]{1,200}$")


def key_subject(key: ApiKey) -> str:
    return f"keys/{key.id}"


def user_subject(tenant: str, user: str) -> str:
    """`users/<tenant>:<user>`: the user as a subject or budget scope, unique across tenants."""
    return f"{USERS}{tenant}{TENANT_SEPARATOR}{user}"


def user_tenant(subject: str) -> str | None:
    """The tenant of a user subject in the tenant-qualified form, or None when `subject` is
    not one (another kind, a bare `users/<user>`, or an empty tenant or user part)."""
    if not subject.startswith(USERS):
        return None
    tenant, separator, user = subject.removeprefix(USERS).partition(TENANT_SEPARATOR)
    return tenant if separator and tenant and user else None


def quota_subjects(key: ApiKey) -> list[pb.QuotaSubject]:
    names = [key_subject(key)]
    user = user_subject(key.tenant, key.user)
    if _SUBJECT_ID.match(user.removeprefix(USERS)):
        names.append(user)
    names.append(f"tenants/{key.tenant}")
    return [pb.QuotaSubject(name=name, tier=key.tier) for name in names]


__all__ = [
    "TENANT_SEPARATOR",
    "USERS",
    "key_subject",
    "quota_subjects",
    "user_subject",
    "user_tenant",
]
