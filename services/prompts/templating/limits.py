"""The render's byte limit, as seen from inside a template: operations that can build a value
many times the size of their inputs check the size first against the limit of the render in
progress, so a refused render never allocates much more than the limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from services.prompts.templating.errors import RenderError

_LIMIT: ContextVar[int] = ContextVar("prompt_render_max_bytes")


def utf8_size(text: str) -> int:
    """The bytes of `text` in UTF-8; ASCII text (the usual case) is not encoded to count it."""
    return len(text) if text.isascii() else len(text.encode())


def too_large(max_bytes: int) -> RenderError:
    return RenderError("too_large", f"the output passes {max_bytes} bytes")


@contextmanager
def limited_to(max_bytes: int) -> Iterator[None]:
    """Make `max_bytes` the limit `check` applies while the block runs (a render)."""
    token = _LIMIT.set(max_bytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def current() -> int:
    return _LIMIT.get()


def check(size: int) -> None:
    """Raise the too-large error when a value of `size` bytes would pass the current limit."""
    if size > (max_bytes := _LIMIT.get()):
        raise too_large(max_bytes)
