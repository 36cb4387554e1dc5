"""The prompt registry: what each RPC does, in plain typed Python (no protobuf).

Each method checks its input first (every bad field at once, INVALID_ARGUMENT, nothing read
or written), then runs one read or one write transaction (`Database`); a write appends its
changes to the log in the same transaction and wakes the change feed after its commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter

from services.prompts import labels as label_ops
from services.prompts import listing, pages, versions
from services.prompts.change_feed import ChangeFeed
from services.prompts.database import Database
from services.prompts.diff import VersionDiff, diff
from services.prompts.drafts import Limits, prepare
from services.prompts.labels import LabelRequest
from services.prompts.listing import PromptFilter
from services.prompts.model import (
    LATEST,
    Created,
    Draft,
    Found,
    LabelMove,
    Page,
    Selector,
)
from services.prompts.naming import (
    MAX_MESSAGE,
    MAX_PERSON,
    check_label,
    check_name,
    check_name_prefix,
    check_text,
)
from services.prompts.rendering import Message, Rendered, render
from services.prompts.store import Write
from svckit.errors import InvalidArgument, Violations

R = TypeVar("R")

PROMPTS_PAGE = (50, 500)
VERSIONS_PAGE = (20, 100)
HISTORY_PAGE = (50, 500)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(
        self,
        db: Database,
        *,
        feed: ChangeFeed | None = None,
        limits: Limits | None = None,
        now: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.db = db
        self.limits = limits or Limits()
        self._feed = feed
        self._now = now
        self._renders = Counter(
            "prompts_renders_total",
            "Prompt renders, by template format and outcome (ok or invalid).",
            ("format", "outcome"),
            registry=registry or CollectorRegistry(),
        )

    async def create_version(self, draft: Draft) -> Created:
        prepared = prepare(draft, self.limits)
        async with self.db.write() as conn:
            w = Write(conn, self._now())
            created = await versions.create(w, prepared)
            await w.finish()
        if w.changes:
            self._changed()
        return created

    async def get(self, name: str, selector: Selector) -> Found:
        _check_read(name, selector)
        async with self.db.read() as conn:
            return await versions.get(conn, name, selector)

    async def list_prompts(self, where: PromptFilter, page_size: int, token: str) -> Page:
        v = Violations()
        check_name_prefix(v, where.name_prefix)
        if where.label:
            check_label(v, where.label)
        size = pages.page_size(v, page_size, *PROMPTS_PAGE)
        v.raise_if_any()
        filters = (where.name_prefix, where.tag, where.label, where.type)
        after = pages.decode(token, str, *filters)
        async with self.db.read() as conn:
            found = await listing.list_prompts(conn, where, after, size + 1)
        more = len(found) > size
        next_token = pages.encode(found[size - 1].name, *filters) if more else ""
        return Page(found[:size], next_token)

    async def list_versions(self, name: str, page_size: int, token: str) -> Page:
        v = Violations()
        check_name(v, name)
        size = pages.page_size(v, page_size, *VERSIONS_PAGE)
        v.raise_if_any()
        before = pages.decode(token, int, name)
        async with self.db.read() as conn:
            found = await versions.list_versions(conn, name, before, size + 1)
        more = len(found) > size
        next_token = pages.encode(found[size - 1].number, name) if more else ""
        return Page(found[:size], next_token)

    async def move_label(self, request: LabelRequest) -> LabelMove | None:
        _check_label_request(request, version_required=True)
        return await self._label_write(label_ops.move, request)

    async def delete_label(self, request: LabelRequest) -> LabelMove:
        _check_label_request(request)
        return await self._label_write(label_ops.remove, request)

    async def rollback_label(self, request: LabelRequest) -> LabelMove:
        _check_label_request(request)
        return await self._label_write(label_ops.rollback, request)

    async def _label_write(
        self, operation: Callable[[Write, LabelRequest], Awaitable[R]], request: LabelRequest
    ) -> R:
        async with self.db.write() as conn:
            w = Write(conn, self._now())
            result = await operation(w, request)
            await w.finish()
        if w.changes:
            self._changed()
        return result

    async def label_history(self, name: str, label: str, page_size: int, token: str) -> Page:
        v = Violations()
        check_name(v, name)
        if label:
            check_label(v, label)
        size = pages.page_size(v, page_size, *HISTORY_PAGE)
        v.raise_if_any()
        before = pages.decode(token, int, name, label)
        async with self.db.read() as conn:
            found = await listing.label_history(conn, name, label, before, size + 1)
        more = len(found) > size
        next_token = pages.encode(found[size - 1][0], name, label) if more else ""
        return Page([move for _, move in found[:size]], next_token)

    async def diff(self, name: str, old: Selector, new: Selector) -> VersionDiff:
        v = Violations()
        check_name(v, name)
        _check_side(v, old, "from")
        _check_side(v, new, "to")
        v.raise_if_any()
        async with self.db.read() as conn:
            before = await versions.get(conn, name, old)
            after = await versions.get(conn, name, new)
        return diff(before.version, after.version)

    async def render(
        self,
        name: str,
        selector: Selector,
        variables: Mapping[str, Any],
        placeholders: Mapping[str, Sequence[Message]],
    ) -> tuple[Found, Rendered]:
        _check_placeholders(placeholders)
        found = await self.get(name, selector)
        template_format = found.version.template.format.value
        try:
            rendered = render(
                found.version, variables, placeholders, max_bytes=self.limits.max_render_bytes
            )
        except InvalidArgument:
            self._renders.labels(template_format, "invalid").inc()
            raise
        self._renders.labels(template_format, "ok").inc()
        return found, rendered

    def _changed(self) -> None:
        if self._feed is not None:
            self._feed.kick()


def _check_read(name: str, selector: Selector) -> None:
    v = Violations()
    check_name(v, name)
    _check_selector(v, selector)
    v.raise_if_any()


def _check_selector(v: Violations, selector: Selector, prefix: str = "") -> None:
    if selector.version < 0:
        v.add(f"{prefix}version", "cannot be negative")
    if selector.version and selector.label:
        v.add(f"{prefix}label", f"give {prefix}version or {prefix}label, not both")
    elif selector.label:
        check_label(v, selector.label, f"{prefix}label")


def _check_side(v: Violations, selector: Selector, side: str) -> None:
    if not selector.version and not selector.label:
        v.add(f"{side}_version", f"give {side}_version or {side}_label")
    _check_selector(v, selector, f"{side}_")


def _check_label_request(request: LabelRequest, *, version_required: bool = False) -> None:
    v = Violations()
    check_name(v, request.name)
    check_label(v, request.label)
    if request.label == LATEST:
        v.add("label", "'latest' is kept on the newest version by the registry")
    if version_required:
        v.check(request.version > 0, "version", "must be a version number (1 or more)")
    else:
        v.check(request.version >= 0, "version", "cannot be negative")
    if request.expected_version is not None:
        v.check(request.expected_version >= 0, "expected_version", "cannot be negative")
    check_text(v, request.actor, "actor", MAX_PERSON)
    check_text(v, request.reason, "reason", MAX_MESSAGE)
    v.raise_if_any()


def _check_placeholders(placeholders: Mapping[str, Sequence[Message]]) -> None:
    v = Violations()
    for name, messages in placeholders.items():
        for i, message in enumerate(messages):
            v.check(bool(message.role), f"placeholders.{name}.messages[{i}].role", "is required")
    v.raise_if_any()
