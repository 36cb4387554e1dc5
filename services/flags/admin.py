"""The admin API's operations on flag sets, flags and revisions, without gRPC.

Reads go to the store, not to this replica's snapshot, so a caller reads its own writes
whichever replica it reaches. Writes are `store.write` with a change from `edits`; the store
makes each one a revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.flags import edits
from services.flags.document import FlagDefinition, Json
from services.flags.revision import Authorship, Revision, RevisionKind, WriteResult
from services.flags.snapshot import StoredSet
from services.flags.store import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, FlagStore
from services.flags.validation import Findings, check_flag_set_id, parse_document
from services.flags.values import INT64_MAX
from svckit.errors import FailedPrecondition, InvalidArgument, NotFound


@dataclass(frozen=True)
class RevisionPage:
    revisions: list[Revision]
    next_page_token: str


class FlagAdmin:
    def __init__(self, store: FlagStore) -> None:
        self._store = store

    async def list_sets(self) -> list[StoredSet]:
        return list((await self._store.snapshot()).sets)

    async def get_set(self, flag_set_id: str) -> StoredSet:
        check_flag_set_id(flag_set_id)
        return await self._store.get(flag_set_id)

    async def get_flag(self, flag_set_id: str, key: str) -> tuple[FlagDefinition, int]:
        stored = await self.get_set(flag_set_id)
        definition = stored.document.flag(key)
        if definition is None:
            raise NotFound(f"flag set {flag_set_id!r} has no flag {key!r}", reason="FLAG_NOT_FOUND")
        return definition, stored.revision

    async def create_set(
        self,
        flag_set_id: str,
        evaluators: Mapping[str, Json],
        metadata: Mapping[str, Json],
        by: Authorship,
    ) -> WriteResult:
        check_flag_set_id(flag_set_id)
        change = edits.create_set(evaluators, metadata)
        return await self._store.write(flag_set_id, change, kind=RevisionKind.CREATE_SET, by=by)

    async def delete_set(self, flag_set_id: str, by: Authorship, expected: int = 0) -> WriteResult:
        check_flag_set_id(flag_set_id)
        return await self._store.write(
            flag_set_id,
            edits.delete_set(),
            kind=RevisionKind.DELETE_SET,
            by=by,
            expected_revision=expected,
        )

    async def create_flag(
        self, flag_set_id: str, key: str, definition: FlagDefinition, by: Authorship, expected: int
    ) -> WriteResult:
        check_flag_set_id(flag_set_id)
        change = edits.create_flag(key, definition)
        return await self._store.write(
            flag_set_id, change, kind=RevisionKind.CREATE_FLAG, by=by, expected_revision=expected
        )

    async def update_flag(
        self, flag_set_id: str, key: str, definition: FlagDefinition, by: Authorship, expected: int
    ) -> WriteResult:
        check_flag_set_id(flag_set_id)
        change = edits.update_flag(key, definition)
        return await self._store.write(
            flag_set_id, change, kind=RevisionKind.UPDATE_FLAG, by=by, expected_revision=expected
        )

    async def delete_flag(
        self, flag_set_id: str, key: str, by: Authorship, expected: int
    ) -> WriteResult:
        check_flag_set_id(flag_set_id)
        change = edits.delete_flag(key)
        return await self._store.write(
            flag_set_id, change, kind=RevisionKind.DELETE_FLAG, by=by, expected_revision=expected
        )

    async def set_enabled(
        self, flag_set_id: str, key: str, enabled: bool, by: Authorship
    ) -> WriteResult:
        """The kill switch (and its undo)."""
        check_flag_set_id(flag_set_id)
        kind = RevisionKind.ENABLE_FLAG if enabled else RevisionKind.DISABLE_FLAG
        return await self._store.write(flag_set_id, edits.set_state(key, enabled), kind=kind, by=by)

    def validate(self, flagd_json: str) -> Findings:
        return parse_document(flagd_json)[1]

    async def import_set(
        self, flag_set_id: str, flagd_json: str, by: Authorship, expected: int
    ) -> WriteResult:
        check_flag_set_id(flag_set_id)
        document, findings = parse_document(flagd_json)
        findings.raise_if_refused(strict=True)
        assert document is not None
        return await self._store.write(
            flag_set_id,
            edits.replace(document),
            kind=RevisionKind.IMPORT,
            by=by,
            expected_revision=expected,
        )

    async def export_set(self, flag_set_id: str) -> tuple[str, int]:
        stored = await self.get_set(flag_set_id)
        return stored.document.dumps(indent=2), stored.revision

    async def revisions(self, flag_set_id: str, page_size: int, page_token: str) -> RevisionPage:
        if flag_set_id:
            check_flag_set_id(flag_set_id)
        if page_size < 0:
            raise InvalidArgument.field("page_size", "cannot be negative")
        before = _page_token(page_token)
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        found = await self._store.list_revisions(flag_set_id, before=before, limit=size)
        token = str(found[-1].id) if len(found) == size else ""
        return RevisionPage(found, token)

    async def revision(self, number: int) -> Revision:
        if number <= 0:
            raise InvalidArgument.field("revision", "must be positive")
        return await self._store.get_revision(number)

    async def rollback(self, flag_set_id: str, number: int, by: Authorship) -> WriteResult:
        check_flag_set_id(flag_set_id)
        target = await self.revision(number)
        if target.flag_set_id != flag_set_id:
            raise NotFound(
                f"revision {number} is not a revision of flag set {flag_set_id!r}",
                reason="REVISION_NOT_FOUND",
            )
        if target.document is None:
            raise FailedPrecondition(
                f"revision {number} deleted the flag set: there is nothing to restore",
                reason="REVISION_DELETED_SET",
            )
        by = Authorship(by.author, by.message or f"rollback to revision {number}")
        change = edits.restore(target.document)
        return await self._store.write(flag_set_id, change, kind=RevisionKind.ROLLBACK, by=by)


def _page_token(token: str) -> int:
    """A revision number (a BIGINT). `str.isdigit` alone passes "²", which `int` refuses, and
    `int` refuses more than 4300 digits."""
    if not token:
        return 0
    digits = token.isascii() and token.isdigit() and len(token) <= len(str(INT64_MAX))
    if not digits or int(token) > INT64_MAX:
        raise InvalidArgument.field("page_token", "is not a token from a previous page")
    return int(token)


__all__ = ["FlagAdmin", "RevisionPage"]
