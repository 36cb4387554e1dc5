"""Rendering versions: variables, chat placeholders, what is missing or unused, limits."""

from __future__ import annotations

import pytest

from services.prompts.model import TemplateFormat
from services.prompts.rendering import Message, render
from svckit.errors import InvalidArgument

from .versions_in_memory import chat_template, text_template, version

JINJA2 = TemplateFormat.JINJA2


def test_a_text_prompt_renders_its_variables_and_reports_unused_ones() -> None:
    found = version(text_template("Summarise {{ doc }} in {{words}} words."))

    rendered = render(found, {"doc": "the memo", "words": 50.0, "tone": "dry", "audience": 1})

    assert rendered.text == "Summarise the memo in 50 words."
    assert rendered.messages == ()
    assert rendered.unused_variables == ("audience", "tone")


def test_every_missing_variable_is_named_at_once() -> None:
    found = version(text_template("{{ a }} {{ b }} {{ c }}"), number=4)

    with pytest.raises(InvalidArgument) as caught:
        render(found, {"b": "x"})

    assert caught.value.reason == "PROMPT_VARIABLES_MISSING"
    assert {v.field: v.description for v in caught.value.violations} == {
        "variables.a": "is required by version 4",
        "variables.c": "is required by version 4",
    }


def test_a_chat_prompt_renders_each_message_and_fills_its_placeholders() -> None:
    found = version(
        chat_template(
            ("system", "You help {{ customer }}."),
            ("placeholder", "history"),
            ("user", "{{ question }}"),
        )
    )
    history = [Message("user", "Hi {{ not_a_variable }}"), Message("assistant", "Hello!", "bot")]

    rendered = render(
        found, {"customer": "Acme", "question": "Where is my order?"}, {"history": history}
    )

    assert rendered.text == ""
    assert rendered.messages == (
        Message("system", "You help Acme."),
        Message("user", "Hi {{ not_a_variable }}"),  # placeholder messages are not templates
        Message("assistant", "Hello!", "bot"),
        Message("user", "Where is my order?"),
    )
    assert found.placeholders == ("history",)


def test_an_empty_placeholder_is_a_value_and_a_missing_one_is_an_error() -> None:
    found = version(chat_template(("placeholder", "history"), ("user", "{{ q }}")), number=2)

    assert render(found, {"q": "?"}, {"history": []}).messages == (Message("user", "?"),)
    with pytest.raises(InvalidArgument) as caught:
        render(found, {}, {"examples": []})
    fields = {v.field for v in caught.value.violations}
    assert fields == {"placeholders.history", "variables.q"}


def test_placeholders_given_and_not_in_the_template_are_reported() -> None:
    found = version(chat_template(("user", "hi")))

    rendered = render(found, {}, {"history": [], "examples": []})

    assert rendered.unused_placeholders == ("examples", "history")


def test_jinja2_templates_get_the_json_values_themselves() -> None:
    source = "{% for item in items %}- {{ item.name }} x{{ item.qty }}\n{% endfor %}"
    found = version(text_template(source, JINJA2))

    rendered = render(found, {"items": [{"name": "tea", "qty": 2}, {"name": "jam", "qty": 1}]})

    assert rendered.text == "- tea x2\n- jam x1\n"


def test_jinja2_may_test_for_an_optional_variable() -> None:
    found = version(text_template("Hi{% if name is defined %} {{ name }}{% endif %}!", JINJA2))

    assert render(found, {}).text == "Hi!"
    assert render(found, {"name": "Ada"}).text == "Hi Ada!"


def test_a_missing_jinja2_variable_is_named() -> None:
    found = version(text_template("{{ greeting }}, {{ name }}", JINJA2), number=3)

    with pytest.raises(InvalidArgument) as caught:
        render(found, {"name": "Ada"})

    assert caught.value.reason == "PROMPT_VARIABLES_MISSING"
    assert [v.field for v in caught.value.violations] == ["variables.greeting"]


def test_a_missing_attribute_of_a_given_value_is_a_render_failure() -> None:
    found = version(text_template("{{ user.nmae }}", JINJA2))

    with pytest.raises(InvalidArgument) as caught:
        render(found, {"user": {"name": "Ada"}})

    assert caught.value.reason == "TEMPLATE_RENDER_FAILED"
    assert [v.field for v in caught.value.violations] == ["variables"]


def test_the_sandbox_refusing_python_internals_is_invalid_argument() -> None:
    found = version(text_template("{{ text.__class__.__mro__[1].__subclasses__() }}", JINJA2))

    with pytest.raises(InvalidArgument) as caught:
        render(found, {"text": "hello"})

    assert caught.value.reason == "TEMPLATE_UNSAFE"
    assert "__class__" in caught.value.message


def test_the_rendered_output_is_limited_across_all_messages() -> None:
    found = version(chat_template(("system", "{{ a }}"), ("placeholder", "h"), ("user", "{{ b }}")))
    values = {"a": "x" * 40, "b": "y" * 40}

    assert len(render(found, values, {"h": []}, max_bytes=80).messages) == 2
    choices: list[dict[str, list[Message]]] = [{"h": []}, {"h": [Message("user", "z")]}]
    for placeholders in choices:
        with pytest.raises(InvalidArgument) as caught:
            render(found, values | {"b": "y" * 41}, placeholders, max_bytes=80)
        assert caught.value.reason == "PROMPT_RENDER_TOO_LARGE"
    with pytest.raises(InvalidArgument):
        render(found, values, {"h": [Message("user", "z")]}, max_bytes=80)


def test_a_jinja2_output_past_the_limit_is_too_large() -> None:
    found = version(text_template("{% for i in range(100) %}{{ word }}{% endfor %}", JINJA2))

    with pytest.raises(InvalidArgument) as caught:
        render(found, {"word": "abcdef"}, max_bytes=100)

    assert caught.value.reason == "PROMPT_RENDER_TOO_LARGE"
