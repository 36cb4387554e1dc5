"""The Jinja2 format, for versions that need logic (conditions, loops, filters).

Templates run in `jinja2.sandbox.ImmutableSandboxedEnvironment`: attributes starting with "_"
and Python's internal attributes (`__class__`, `mro`, `func_globals`, ...) are refused with a
SecurityError, as are methods that modify lists and dicts; `range` is capped at 100,000 items.
On top of the sandbox:

- `StrictUndefined`: using a variable the values lack is an error, never an empty string (a
  template may still test `x is defined`);
- `*` and `**` are intercepted: repeating a string or list beyond `MAX_REPEAT` items, and an
  integer power of more than `MAX_POWER_BITS` bits, are refused, so one expression cannot
  allocate gigabytes or compute for minutes;
- no one value may pass the caller's limit either: a repetition, `%` formatting, the filters
  and str methods that can multiply sizes (`join`, `replace`, `center`, `indent`, `wordwrap`,
  `format`, `str.format`, ...) count their result first and raise the too-large error (see
  `growth`);
- the output is produced piece by piece and rendering stops once it passes the caller's limit.

The sandbox protects the process from the values a caller renders with; template authors use
an admin RPC and are trusted not to write templates that loop for minutes (a CPU bound would
need a separate process per render).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2 import TemplateSyntaxError as JinjaSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.prompts.templating import growth, limits
from services.prompts.templating.errors import RenderError, TemplateSyntaxError

MAX_REPEAT = 1_000_000
MAX_POWER_BITS = 100_000


class PromptSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(growth.FILTERS)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            growth.check_repeat(left, right)
            growth.check_repeat(right, left)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            growth.check_printf(left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., Any] | None:
        """Called on every attribute a template reads: str methods that can grow are checked."""
        return growth.bounded_format(self, value) or growth.bounded_str_method(value)


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
    if repeats and len(sequence) * times > MAX_REPEAT:
        raise SecurityError(f"repeating beyond {MAX_REPEAT} items is not allowed")


def _check_power(base: Any, exponent: Any) -> None:
    integers = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if integers and base.bit_length() * exponent > MAX_POWER_BITS:
        raise SecurityError(f"powers of more than {MAX_POWER_BITS} bits are not allowed")


ENVIRONMENT = PromptSandbox(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, cache_size=0
)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> Any:
    try:
        return ENVIRONMENT.from_string(source)
    except JinjaSyntaxError as exc:
        raise TemplateSyntaxError(exc.message or "syntax error", exc.lineno) from None


def check(source: str) -> None:
    """Raise TemplateSyntaxError when `source` is not a valid template."""
    _compile(source)


@functools.lru_cache(maxsize=1024)
def variables(source: str) -> tuple[str, ...]:
    """The names the template reads from its values (its globals such as `range` excluded)."""
    try:
        names = meta.find_undeclared_variables(ENVIRONMENT.parse(source))
    except JinjaSyntaxError as exc:
        raise TemplateSyntaxError(exc.message or "syntax error", exc.lineno) from None
    return tuple(sorted(names - set(ENVIRONMENT.globals)))


def render(source: str, values: Mapping[str, Any], max_bytes: int) -> str:
    """Render `source` with `values`; raises RenderError (see its kinds)."""
    template = _compile(source)
    pieces: list[str] = []
    size = 0
    try:
        with limits.limited_to(max_bytes):
            for piece in template.generate(dict(values)):
                size += limits.utf8_size(piece)
                if size > max_bytes:
                    raise limits.too_large(max_bytes)
                pieces.append(piece)
    except UndefinedError as exc:
        raise RenderError("undefined", exc.message or "undefined value") from None
    except SecurityError as exc:
        raise RenderError("unsafe", f"refused by the sandbox: {exc}") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise RenderError("failed", f"{type(exc).__name__}: {exc}") from None
    return "".join(pieces)
