"""The changes the admin API makes to a flag set, as pure functions for `FlagStore.write`.

Each function returns a `Change`: given the set as stored (None when absent) it returns the new
content, or raises the error that refuses the request. A flag written through the API is
checked strictly (targeting problems included) against its set's evaluators, and the resulting
set must load in the in-process engine; other flags of the set are not re-judged, so a file
source loaded leniently can still be edited flag by flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.flags.document import DISABLED, ENABLED, FlagDefinition, FlagSetDocument, Json
from services.flags.snapshot import StoredSet
from services.flags.store import Change
from services.flags.validation import Findings, check_document, check_engine_accepts, check_flag
from svckit.errors import AlreadyExists, InvalidArgument, NotFound


def create_set(evaluators: Mapping[str, Json], metadata: Mapping[str, Json]) -> Change:
    data = {"flags": {}, "$evaluators": dict(evaluators), "metadata": dict(metadata)}
    document, findings = check_document(data)
    findings.raise_if_refused()
    assert document is not None

    def change(flag_set_id: str, current: StoredSet | None) -> FlagSetDocument:
        if current is not None:
            raise AlreadyExists(
                f"flag set {flag_set_id!r} already exists", reason="FLAG_SET_EXISTS"
            )
        return document

    return change


def delete_set() -> Change:
    def change(flag_set_id: str, current: StoredSet | None) -> None:
        _require_set(flag_set_id, current)

    return change


def replace(document: FlagSetDocument) -> Change:
    """The whole content (an import); creates the set when absent."""
    return lambda flag_set_id, current: document


def restore(document: FlagSetDocument) -> Change:
    """A rollback: the content of an earlier revision, validated when it was written."""
    return lambda flag_set_id, current: document


def create_flag(key: str, definition: FlagDefinition) -> Change:
    def change(flag_set_id: str, current: StoredSet | None) -> FlagSetDocument:
        stored = _require_set(flag_set_id, current)
        if key in stored.document.flags:
            raise AlreadyExists(
                f"flag set {stored.id!r} already has a flag {key!r}", reason="FLAG_EXISTS"
            )
        return _checked(stored.document, key, definition)

    return change


def update_flag(key: str, definition: FlagDefinition) -> Change:
    def change(flag_set_id: str, current: StoredSet | None) -> FlagSetDocument:
        stored = _require_flag(flag_set_id, current, key)
        return _checked(stored.document, key, definition)

    return change


def delete_flag(key: str) -> Change:
    def change(flag_set_id: str, current: StoredSet | None) -> FlagSetDocument:
        return _require_flag(flag_set_id, current, key).document.without_flag(key)

    return change


def set_state(key: str, enabled: bool) -> Change:
    """The kill switch: the flag's `state`, nothing else."""

    def change(flag_set_id: str, current: StoredSet | None) -> FlagSetDocument:
        document = _require_flag(flag_set_id, current, key).document
        definition = document.flag(key)
        assert definition is not None
        definition["state"] = ENABLED if enabled else DISABLED
        return document.with_flag(key, definition)

    return change


def _checked(document: FlagSetDocument, key: str, definition: FlagDefinition) -> FlagSetDocument:
    findings = check_flag(key, definition, document.evaluators, "flag.", key_path="flag.key")
    findings.raise_if_refused()
    updated = document.with_flag(key, definition)
    engine = Findings()
    check_engine_accepts(updated, engine)
    if engine.errors:
        raise InvalidArgument(engine.errors, reason="INVALID_FLAG_DEFINITION")
    return updated


def _require_set(flag_set_id: str, current: StoredSet | None) -> StoredSet:
    if current is None:
        raise NotFound(f"no flag set {flag_set_id!r}", reason="FLAG_SET_NOT_FOUND")
    return current


def _require_flag(flag_set_id: str, current: StoredSet | None, key: str) -> StoredSet:
    stored = _require_set(flag_set_id, current)
    if key not in stored.document.flags:
        raise NotFound(f"flag set {stored.id!r} has no flag {key!r}", reason="FLAG_NOT_FOUND")
    return stored


__all__ = [
    "create_flag",
    "create_set",
    "delete_flag",
    "delete_set",
    "replace",
    "restore",
    "set_state",
    "update_flag",
]
