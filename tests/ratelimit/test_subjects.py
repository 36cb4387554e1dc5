from __future__ import annotations

import pytest

from services.ratelimit.subjects import SUBJECT_ID_MAX, subject_problem


@pytest.mark.parametrize(
    "name",
    [
        "keys/k1",
        "users/alice@example.com",
        "tenants/acme",
        "keys/A-z_0.9~:@+=",
        "keys/" + "x" * SUBJECT_ID_MAX,
    ],
)
def test_well_formed_subjects(name: str) -> None:
    assert subject_problem(name) is None


def test_empty_subject_is_required() -> None:
    assert subject_problem("") == "is required"


@pytest.mark.parametrize(
    "name",
    [
        "keys/",
        "keys",
        "projects/p1",
        "Keys/k1",
        "keys/a/b",
        "keys/a*",
        "keys/a?",
        "keys/[a]",
        "keys/{tag}",
        "keys/a|b",
        "keys/a\\b",
        "keys/a b",
        "keys/a\n",
        "keys/é",
        "keys/" + "x" * (SUBJECT_ID_MAX + 1),
    ],
)
def test_malformed_subjects(name: str) -> None:
    problem = subject_problem(name)
    assert problem is not None
    assert problem.startswith('must be "keys/{id}", "users/{id}" or "tenants/{id}"')
