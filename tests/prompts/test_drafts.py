"""Checking a version before it is stored: names, labels, tags, templates, configs, limits."""

from __future__ import annotations

from typing import Any

import pytest

from services.prompts.drafts import Limits, prepare
from services.prompts.model import ChatEntry, Draft, PromptType, Template, TemplateFormat
from svckit.errors import InvalidArgument

from .versions_in_memory import chat_template, text_template


def violations(draft: Draft, limits: Limits | None = None) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        prepare(draft, limits or Limits())
    return {v.field: v.description for v in caught.value.violations}


@pytest.mark.parametrize(
    "name",
    [
        "support/triage",
        "a",
        "0-start/with.dots_and-dashes",
        "x" * 200,
        "a/b/c/d/e/f",
    ],
)
def test_names_in_the_documented_set_are_accepted(name: str) -> None:
    assert prepare(Draft(name, text_template("hi"), {}), Limits()).draft.name == name


@pytest.mark.parametrize(
    "name",
    [
        "Support",
        "with space",
        "/leading",
        "trailing/",
        "double//slash",
        "../escape",
        ".hidden",
        "-dash",
        "a/_b",
        "ünïcode",
        "pipe|name",
        "colon:verb",
        "x" * 201,
    ],
)
def test_names_outside_the_documented_set_are_refused(name: str) -> None:
    assert "segments of [a-z0-9._-]" in violations(Draft(name, text_template("hi"), {}))["name"]


def test_an_empty_name_is_required() -> None:
    assert violations(Draft("", text_template("hi"), {})) == {"name": "is required"}


def test_every_bad_field_is_reported_at_once() -> None:
    draft = Draft(
        name="Bad Name",
        template=text_template("{{ #section }}"),
        config={"temperature": 5, "max_tokens": 0, "stop": [1]},
        commit_message="m" * 501,
        author="a" * 201,
        labels=("production", "latest", "Prod", "production"),
        tags=("ok", "Not Ok"),
    )

    found = violations(draft)

    assert set(found) == {
        "name",
        "text",
        "config.temperature",
        "config.max_tokens",
        "config.stop",
        "commit_message",
        "author",
        "labels[1]",
        "labels[2]",
        "labels[3]",
        "tags[1]",
    }
    assert "line 1" in found["text"]
    assert found["labels[1]"] == "'latest' is kept on the newest version by the registry"
    assert found["labels[3]"] == "is named twice"


def test_an_oversize_template_is_refused_with_the_limit() -> None:
    limits = Limits(max_template_bytes=100)

    assert prepare(Draft("p", text_template("é" * 50), {}), limits)  # 100 bytes of UTF-8
    found = violations(Draft("p", text_template("é" * 51), {}), limits)
    assert found == {"text": "at most 100 bytes of UTF-8 (this template has 102)"}
    chat = chat_template(("system", "a" * 60), ("user", "b" * 41))
    assert violations(Draft("p", chat, {}), limits) == {
        "messages": "at most 100 bytes of UTF-8 (this template has 101)"
    }


def test_an_oversize_config_is_refused() -> None:
    found = violations(
        Draft("p", text_template("x"), {"notes": "n" * 100}), Limits(max_config_bytes=50)
    )

    assert found["config"].startswith("at most 50 bytes as JSON")


def test_template_shapes_must_match_the_type() -> None:
    empty_text = Template(PromptType.TEXT, TemplateFormat.MUSTACHE)
    text_with_messages = Template(
        PromptType.TEXT, TemplateFormat.MUSTACHE, text="x", messages=(ChatEntry("user", "y"),)
    )
    chat_with_text = Template(PromptType.CHAT, TemplateFormat.MUSTACHE, text="x")

    assert violations(Draft("p", empty_text, {})) == {"text": "is required for a text prompt"}
    assert violations(Draft("p", text_with_messages, {})) == {
        "messages": "a text prompt has no messages"
    }
    assert violations(Draft("p", chat_with_text, {})) == {
        "text": "a chat prompt has messages, not a text",
        "messages": "a chat prompt needs at least one message",
    }


def test_chat_entries_are_checked_one_by_one() -> None:
    template = Template(
        PromptType.CHAT,
        TemplateFormat.MUSTACHE,
        messages=(
            ChatEntry("wizard", "hi"),
            ChatEntry(placeholder="history"),
            ChatEntry(placeholder="history"),
            ChatEntry(placeholder="not ok"),
            ChatEntry(role="user", content="x", placeholder="both"),
            ChatEntry("user", "{{ broken"),
        ),
    )

    assert violations(Draft("p", template, {})) == {
        "messages[0].role": "must be one of system, developer, user, assistant",
        "messages[2].placeholder": "is used twice",
        "messages[3].placeholder": "must be an identifier (letters, digits, '_')",
        "messages[4]": "a placeholder has no role or content",
        "messages[5].content": "mustache template: line 1: '{{' is never closed by '}}'",
    }


def test_too_many_chat_messages_are_refused() -> None:
    template = Template(
        PromptType.CHAT, TemplateFormat.MUSTACHE, messages=(ChatEntry("user", "x"),) * 201
    )

    assert violations(Draft("p", template, {})) == {"messages": "at most 200 messages"}


def test_a_jinja2_syntax_error_names_the_message_and_line() -> None:
    template = chat_template(("system", "ok"), ("user", "a\n{% for %}"), fmt=TemplateFormat.JINJA2)

    found = violations(Draft("p", template, {}))

    assert found["messages[1].content"].startswith("jinja2 template: line 2:")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model", ""),
        ("model", 3),
        ("temperature", 2.5),
        ("temperature", "hot"),
        ("temperature", True),
        ("top_p", -0.1),
        ("max_tokens", 1.5),
        ("max_tokens", False),
        ("seed", "s"),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("presence_penalty", 3),
        ("frequency_penalty", -2.5),
    ],
)
def test_known_model_parameters_are_checked(key: str, value: Any) -> None:
    assert f"config.{key}" in violations(Draft("p", text_template("x"), {key: value}))


def test_unknown_config_keys_are_kept_and_numbers_normalized() -> None:
    config = {"model": "gpt-4o", "max_tokens": 500.0, "stop": "END", "seed": -3, "x": {"y": 1.0}}

    prepared = prepare(Draft("p", text_template("x"), config), Limits())

    assert prepared.config == {
        "model": "gpt-4o",
        "max_tokens": 500,
        "stop": "END",
        "seed": -3,
        "x": {"y": 1},
    }
    assert (
        prepared.config_json
        == '{"max_tokens":500,"model":"gpt-4o","seed":-3,"stop":"END","x":{"y":1}}'
    )


def test_the_content_hash_ignores_key_order_and_number_spelling_but_not_content() -> None:
    def digest(template: Template, config: dict[str, Any], **fields: Any) -> str:
        return prepare(Draft("p", template, config, **fields), Limits()).content_hash

    base = digest(text_template("x"), {"a": 1, "b": 2.0})
    assert (
        digest(text_template("x"), {"b": 2, "a": 1.0}, commit_message="other", author="z") == base
    )
    assert digest(text_template("x "), {"a": 1, "b": 2}) != base
    assert digest(text_template("x", TemplateFormat.JINJA2), {"a": 1, "b": 2}) != base
    assert digest(text_template("x"), {"a": 1, "b": 3}) != base


def test_tags_are_sorted_and_deduplicated() -> None:
    prepared = prepare(Draft("p", text_template("x"), {}, tags=("b", "a", "b")), Limits())

    assert prepared.tags == ("a", "b")
    assert prepare(Draft("p", text_template("x"), {}), Limits()).tags is None
    too_many = tuple(f"t{i}" for i in range(21))
    assert violations(Draft("p", text_template("x"), {}, tags=too_many)) == {
        "tags": "at most 20 tags"
    }
