"""Template operations whose result can be many times the size of their inputs, bounded.

One expression can multiply the sizes of two caller values (`x|replace('a', y)`,
`items|join(y)`, `x.center(n)`), so checking only the output would let it allocate gigabytes
before the render is refused. Each operation here counts its result's size without building
it, raises the too-large error when that passes the limit of the render in progress, and only
then runs the Jinja2 filter or str method unchanged.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable
from string import Formatter
from typing import Any

from jinja2 import pass_environment, pass_eval_context
from jinja2.environment import Environment
from jinja2.filters import (
    do_batch,
    do_center,
    do_format,
    do_indent,
    do_replace,
    do_wordwrap,
    make_attrgetter,
    sync_do_join,
)
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from services.prompts.templating import limits
from services.prompts.templating.limits import utf8_size

POINTER_BYTES = 8  # a list holds one reference per item, whatever the item

# printf-style conversions (`%-10.3f`, `%(name)*s`): their widths and precisions pad the output.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
# A str.format spec of the built-in types (`>20`, `0=+#12,.3f`): width and precision pad it.
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?")


def check_repeat(sequence: Any, times: Any) -> None:
    """`sequence * times`: text counts its bytes, a list its references and the text of its
    items (its `str()` writes them all)."""
    if not isinstance(times, int) or times <= 0:
        return
    if isinstance(sequence, str):
        limits.check(utf8_size(sequence) * times)
    elif isinstance(sequence, list | tuple):
        limits.check(_footprint(sequence, limits.current() // times) * times)


def _footprint(value: Any, budget: int) -> int:
    """A lower bound of the bytes of `value` as a list or as text, counted until it passes
    `budget` (a list repeated by a caller's count can be long)."""
    if isinstance(value, str):
        return utf8_size(value)
    if not isinstance(value, list | tuple):
        return POINTER_BYTES
    size = 0
    for item in value:
        size += max(POINTER_BYTES, _footprint(item, budget - size))
        if size > budget:
            break
    return size


def check_printf(template: str, args: Any) -> None:
    """`template % args`: each width and precision pads the output (`*` takes an argument)."""
    padding = 0
    stars = False
    for conversion in _PRINTF.finditer(template):
        for number in conversion.groups():
            stars |= number == "*"
            padding += int(number) if number and number != "*" else 0
    if stars:
        values = args if isinstance(args, tuple) else (args,)
        padding += sum(abs(v) for v in values if isinstance(v, int))
    limits.check(utf8_size(template) + padding)


def _check_joined(texts: Iterable[str], separator: str) -> None:
    max_bytes, step = limits.current(), utf8_size(separator)
    size = -step
    for text in texts:
        size += step + utf8_size(text)
        if size > max_bytes:
            raise limits.too_large(max_bytes)


def _check_replaced(text: str, old: str, new: str, count: int) -> None:
    found = text.count(old)  # an empty `old` is found between every two characters
    if count >= 0:
        found = min(found, count)
    limits.check(utf8_size(text) + found * (utf8_size(new) - utf8_size(old)))


def _check_padded(text: str, width: int, fill: str = " ") -> None:
    limits.check(utf8_size(text) + max(0, width - len(text)) * utf8_size(fill))


# Jinja2 filters, same signatures as the ones they replace.


@pass_eval_context
def join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)  # read once: `value` may be a generator
    texts: Iterable[Any] = items
    if attribute is not None:
        texts = map(make_attrgetter(eval_ctx.environment, attribute), items)
    _check_joined(map(str, texts), str(d))
    return sync_do_join(eval_ctx, items, d, attribute)


@pass_eval_context
def replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
    _check_replaced(str(s), str(old), str(new), -1 if count is None else count)
    return do_replace(eval_ctx, s, old, new, count)


def center(value: str, width: int = 80) -> str:
    _check_padded(str(value), width)
    return do_center(value, width)


def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    step = utf8_size(width) if isinstance(width, str) else width
    lines = (text + "\n").splitlines()  # as the filter splits them
    indented = len(lines) - 1 if blank else sum(1 for line in lines[1:] if line)
    limits.check(utf8_size(text) + (indented + first) * step)
    return do_indent(s, width, first, blank)


@pass_environment
def wordwrap(
    environment: Environment,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    # Wrapping with "\n" costs no more than the text; its "\n"s are the breaks (the filter
    # splits the text's own lines first), each of which becomes `wrapstring`.
    wrap = environment.newline_sequence if wrapstring is None else wrapstring
    plain = do_wordwrap(environment, s, width, break_long_words, "\n", break_on_hyphens)
    limits.check(utf8_size(plain) + plain.count("\n") * (utf8_size(wrap) - 1))
    return do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)


def format_(value: str, *args: Any, **kwargs: Any) -> str:
    check_printf(str(value), kwargs or args)
    return do_format(value, *args, **kwargs)


def batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    if fill_with is not None:  # the last batch is padded to `linecount` items
        limits.check(linecount * POINTER_BYTES)
    return do_batch(value, linecount, fill_with)


FILTERS: dict[str, Callable[..., Any]] = {
    "join": join,
    "replace": replace,
    "center": center,
    "indent": indent,
    "wordwrap": wordwrap,
    "format": format_,
    "batch": batch,
}


# str methods a template can call (`x.replace('a', y)`), and str.format's fields.


def _join_method(method: Any, iterable: Iterable[Any]) -> Any:
    items = list(iterable)
    _check_joined((item for item in items if isinstance(item, str)), method.__self__)
    return method(items)


def _replace_method(method: Any, old: str, new: str, count: int = -1) -> Any:
    _check_replaced(method.__self__, old, new, count)
    return method(old, new, count)


def _pad_method(method: Any, width: int, *fill: str) -> Any:
    _check_padded(method.__self__, width, *fill)
    return method(width, *fill)


def _expandtabs_method(method: Any, tabsize: int = 8) -> Any:
    text = method.__self__
    limits.check(utf8_size(text) + text.count("\t") * tabsize)
    return method(tabsize)


_STR_METHODS: dict[str, Callable[..., Any]] = {
    "join": _join_method,
    "replace": _replace_method,
    "center": _pad_method,
    "ljust": _pad_method,
    "rjust": _pad_method,
    "zfill": _pad_method,
    "expandtabs": _expandtabs_method,
}


def bounded_str_method(value: Any) -> Callable[..., Any] | None:
    """A checked stand-in for `value` when it is one of the str methods that can grow."""
    guard = _method_of_str(value) and _STR_METHODS.get(value.__name__)
    if not guard:
        return None
    return lambda *args, **kwargs: guard(value, *args, **kwargs)


def bounded_format(environment: Environment, value: Any) -> Callable[..., str] | None:
    """Like the sandbox's own `str.format`/`format_map` wrapper, with every field's width and
    precision counted against the limit."""
    if not _method_of_str(value) or value.__name__ not in ("format", "format_map"):
        return None
    template: str = value.__self__

    def wrapper(*args: Any, **kwargs: Any) -> str:
        if value.__name__ == "format_map":  # the sandbox's own checks and messages
            if kwargs:
                raise TypeError("format_map() takes no keyword arguments")
            if len(args) != 1:
                raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
            kwargs, args = args[0], ()
        formatter: Formatter
        if isinstance(template, Markup):
            formatter = _BoundedEscapeFormatter(environment, escape=template.escape)
        else:
            formatter = _BoundedFormatter(environment)
        return type(template)(formatter.vformat(template, args, kwargs))

    return wrapper


def _method_of_str(value: Any) -> bool:
    methods = types.MethodType, types.BuiltinMethodType
    return isinstance(value, methods) and isinstance(value.__self__, str)


class _BoundedFormatter(SandboxedFormatter):
    def __init__(self, environment: Environment, **kwargs: Any) -> None:
        super().__init__(environment, **kwargs)
        self.padding = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        spec = _FORMAT_SPEC.fullmatch(format_spec)
        if spec:
            self.padding += sum(int(number) for number in spec.groups() if number)
            limits.check(self.padding)
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass
