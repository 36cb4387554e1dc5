"""The two template formats on their own: parsing, variables, rendering, the sandbox."""

from __future__ import annotations

import pytest

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
