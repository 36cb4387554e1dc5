"""The two template formats on their own: parsing, variables, rendering, the sandbox."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.prompts.json_values import as_text
from services.prompts.model import TemplateFormat
from services.prompts.templating import formats, mustache, sandbox
from services.prompts.templating.errors import RenderError, TemplateSyntaxError


def test_the_default_format_substitutes_variables_with_or_without_spaces() -> None:
    parsed = mustache.parse("Hi {{name}}, {{ name }} asked about {{  topic }}.}}")

    assert parsed.variables == ("name", "topic")
    assert parsed.render({"name": "Ada", "topic": "tea"}, as_text) == (
        "Hi Ada, Ada asked about tea.}}"
    )


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Hello {{#items}}x{{/items}}", 1),
        ("one\ntwo {{{raw}}}", 2),
        ("{{user name}}", 1),
        ("{{}}", 1),
        ("ok\n\nthen {{ never closed", 3),
        ("{{ 1abc }}", 1),
    ],
)
def test_the_default_format_refuses_what_is_not_a_variable(source: str, line: int) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        mustache.parse(source)

    assert caught.value.line == line
    assert f"line {line}:" in caught.value.describe()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (3.0, "3"),
        (2.5, "2.5"),
        (7, "7"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ([1.0, "a"], '[1,"a"]'),
        ({"k": 2.0}, '{"k":2}'),
    ],
)
def test_values_are_written_as_text_without_needless_decimals(value: object, text: str) -> None:
    assert as_text(value) == text


def test_a_template_without_variables_renders_as_written() -> None:
    assert mustache.parse("no variables }} here").render({}, as_text) == "no variables }} here"
    assert mustache.parse("").variables == ()


def test_jinja2_templates_list_what_they_read_but_not_their_globals() -> None:
    source = "{% for i in range(n) %}{{ items[i] | upper }}{% endfor %}{{ loop_var is defined }}"

    assert sandbox.variables(source) == ("items", "loop_var", "n")
    assert sandbox.render(source, {"n": 2, "items": ["a", "b"]}, 1000) == "ABFalse"


def test_jinja2_syntax_errors_carry_their_line() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        formats.variables(TemplateFormat.JINJA2, "fine\n{% if %}")

    assert caught.value.line == 2


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ '{0.__class__.__init__.__globals__}'.format(x) }}",
        "{% set d = {} %}{{ d.update({'a': 1}) }}",
        "{{ 'a' * 10000000 }}",
        "{{ [1] * 10000000 }}",
        "{{ 99 ** 99999 }}",
    ],
)
def test_the_sandbox_refuses_python_internals_and_huge_values(source: str) -> None:
    with pytest.raises(RenderError) as caught:
        sandbox.render(source, {"x": "text"}, 1_000_000)

    assert caught.value.kind == "unsafe"


def test_undefined_is_an_error_in_jinja2_not_an_empty_string() -> None:
    with pytest.raises(RenderError) as caught:
        sandbox.render("Dear {{ name }}", {}, 1000)

    assert caught.value.kind == "undefined"
    assert "name" in caught.value.message


def test_jinja2_output_beyond_the_limit_stops_rendering() -> None:
    with pytest.raises(RenderError) as caught:
        sandbox.render("{% for i in range(1000) %}0123456789{% endfor %}", {}, 5000)

    assert caught.value.kind == "too_large"


def test_a_failing_jinja2_expression_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        sandbox.render("{{ 1 / x }}", {"x": 0}, 100)

    assert caught.value.kind == "failed"
    assert "ZeroDivisionError" in caught.value.message


def test_the_default_format_output_is_limited_too() -> None:
    with pytest.raises(RenderError):
        formats.render(TemplateFormat.MUSTACHE, "{{ x }}", {"x": "y" * 100}, 50)
    assert formats.render(TemplateFormat.MUSTACHE, "{{ x }}", {"x": "y" * 50}, 50) == "y" * 50


LIMIT = 50_000
TEXT = "a" * 5_000
LINES = "a\n" * 2_500
WORDS = "a " * 2_500
HUGE = 10_000_000


def _refused_with_peak(render: Callable[[], object]) -> tuple[RenderError, int]:
    """The error `render` raises and the most memory it held meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(RenderError) as caught:
            render()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_default_format_stops_before_building_an_oversized_output() -> None:
    source, values = "{{ctx}}\n" * 200, {"ctx": "a" * LIMIT}

    error, peak = _refused_with_peak(
        lambda: formats.render(TemplateFormat.MUSTACHE, source, values, LIMIT)
    )

    assert error.kind == "too_large"
    assert peak < 10 * LIMIT


@pytest.mark.parametrize(
    "source",
    [
        "{{ x|replace('a', y) }}",
        "{{ x|list|join(y) }}",
        "{{ ([x] * 1000)|join }}",
        "{{ ([x] * 100)|length }}",
        "{{ (x * 199)|length }}",
        "{{ x|center(n) }}",
        "{{ lines|indent(y) }}",
        "{{ words|wordwrap(1, wrapstring=y) }}",
        "{{ '%*s'|format(n, x) }}",
        "{{ '%*s' % (n, x) }}",
        "{{ '{:>{n}}'.format(x, n=n) }}",
        "{{ x.replace('a', y) }}",
        "{{ y.join(x) }}",
        "{{ x.ljust(n) }}",
    ],
)
def test_one_jinja2_expression_cannot_build_more_than_the_limit(source: str) -> None:
    values = {"x": TEXT, "y": TEXT, "n": HUGE, "lines": LINES, "words": WORDS}

    error, peak = _refused_with_peak(lambda: sandbox.render(source, values, LIMIT))

    assert error.kind == "too_large"
    assert error.message == f"the output passes {LIMIT} bytes"
    assert peak < 10 * LIMIT


@pytest.mark.parametrize(
    "source",
    [
        "{{ [1, 2, 3]|join('|') }} {{ users|join(', ', attribute='name') }} {{ 'abc'|join }}",
        "{{ 'aaaaargh'|replace('a', \"d'oh, \", 2) }} {{ 'ab'|replace('', '-') }}",
        "[{{ 'x'|center(7) }}] [{{ 'long text'|center(3) }}]",
        "{{ 'one\ntwo\n\nthree'|indent }}|{{ 'a\n\nb'|indent('> ', first=True, blank=True) }}",
        "{{ 'the quick brown fox jumps over the lazy dog'|wordwrap(10, wrapstring='<br>') }}",
        "{{ '%s, %5.2f%%'|format('x', 3.14159) }} {{ '%(a)s' % {'a': 1} }} {{ 7 % 3 }}",
        "{{ '{:>6}|{:.2f}|{}'.format('x', 2.5, [1]) }} {{ '{a}'.format_map({'a': 1}) }}",
        "{{ 'a-b'.replace('-', '+') }} {{ ','.join(['a', 'b']) }} {{ '7'.zfill(3) }}",
        "{{ 'ab' * 3 }} {{ [1] * 3 }} {{ 3 * 'c' }} {{ 2 * 3 }} {{ 'a\tb'.expandtabs(4) }}",
        "{{ [1, 2, 3, 4]|batch(3, 0)|list }} {{ 'x'.rjust(3, '.') }}{{ 'x'.ljust(2) }}|",
    ],
)
def test_bounded_operations_render_as_jinja2_does(source: str) -> None:
    values = {"users": [{"name": "ada"}, {"name": "bob"}]}
    reference = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

    assert sandbox.render(source, values, LIMIT) == reference.from_string(source).render(values)
