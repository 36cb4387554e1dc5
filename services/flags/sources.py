"""Flag files loaded at start (`FLAGS_SOURCE_FILES`), like flagd's file sources.

Each file becomes (or updates) the flag set named after it: `name=path` names it, a bare
relative `path` is its own name (an absolute path needs a name: ids start with a letter or
digit). That name is the source selectors name (`rawflags/selector-flags.json`).
A file is imported as a revision (kind SOURCE_FILE, author `file:<path>`) when its content
differs from what was last loaded from it (its sha256 is kept with the set): restarting a
replica, or several starting together, writes nothing new, and edits made through the admin
API since the last load stay until the file itself changes. Files are loaded in the order
given, so on a first start a later file wins a key two of them define, as in flagd.

A file with errors stops the start-up, naming each problem. Targeting that cannot evaluate
only warns unless `FLAGS_STRICT_SOURCES` (see `validation`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from services.flags import edits
from services.flags.revision import Authorship, RevisionKind
from services.flags.store import FlagStore
from services.flags.validation import FLAG_SET_ID, parse_document

log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source file cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    path: Path

    @classmethod
    def parse(cls, entry: str) -> SourceFile:
        name, separator, path = entry.partition("=")
        if not separator:
            name, path = entry, entry
        name, path = name.strip(), path.strip()
        if not FLAG_SET_ID.match(name):
            raise SourceError(
                f"{entry!r}: {name!r} is not a valid flag set id (1-200 of [A-Za-z0-9._/-], "
                "starting with a letter or digit): name the file with 'name=path'"
            )
        return cls(name, Path(path))


async def load_sources(store: FlagStore, entries: tuple[str, ...], *, strict: bool) -> int:
    """Imports every source file that changed; returns how many were written."""
    sources = [SourceFile.parse(entry) for entry in entries]
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise SourceError(f"two source files have the same name: {', '.join(sorted(names))}")
    written = 0
    for source in sources:
        written += await _load(store, source, strict=strict)
    return written


async def _load(store: FlagStore, source: SourceFile, *, strict: bool) -> int:
    try:
        content = source.path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{source.path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(content).hexdigest()
    document, findings = parse_document(content.decode("utf-8", errors="replace"))
    refused = findings.refusals(strict=strict)
    if refused or document is None:
        problems = "; ".join(f"{v.field}: {v.description}" for v in refused)
        raise SourceError(f"{source.path}: {problems}")
    for problem in findings.targeting:
        log.warning("%s: %s: %s", source.path, problem.field, problem.description)
    snapshot = await store.snapshot()
    current = snapshot.find(source.name)
    if current is not None and current.source_digest == digest:
        return 0
    result = await store.write(
        source.name,
        edits.replace(document),
        kind=RevisionKind.SOURCE_FILE,
        by=Authorship(f"file:{source.path}"[:200], f"loaded from {source.path}"),
        source_digest=digest,
    )
    return int(result.changed)


__all__ = ["SourceError", "SourceFile", "load_sources"]
