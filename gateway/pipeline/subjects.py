"""The rate-limit subjects of a key: the key itself, its user and its tenant, each limited by
the key's tier (a tier is a plan: the tenant bought it, its keys carry it).

Subject ids must fit the rate limiter's alphabet (`[A-Za-z0-9._~:@+=-]`, at most 200
characters). Key ids and tenant ids always do; a user name that does not (it may hold spaces)
is left out of the check rather than failing the call: the key and the tenant still bound it.
"""

from __future__ import annotations

import re

from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

from gateway.keys.model import ApiKey

_SUBJECT_ID = re.compile(r"^[A-Za-z0-9._~:@+=\-]{1,200}$")


def key_subject(key: ApiKey) -> str:
    return f"keys/{key.id}"


def quota_subjects(key: ApiKey) -> list[pb.QuotaSubject]:
    names = [key_subject(key)]
    if _SUBJECT_ID.match(key.user):
        names.append(f"users/{key.user}")
    names.append(f"tenants/{key.tenant}")
    return [pb.QuotaSubject(name=name, tier=key.tier) for name in names]


__all__ = ["key_subject", "quota_subjects"]
