"""Differences between two versions: templates, configs key by key, variables, format."""

from __future__ import annotations

from services.prompts.diff import ChangeType, ConfigChange, diff
from services.prompts.model import TemplateFormat

from .versions_in_memory import chat_template, text_template, version


def test_identical_versions_have_no_differences() -> None:
    old = version(text_template("Hello {{ name }}"), config={"temperature": 0.2})
    new = version(text_template("Hello {{ name }}"), config={"temperature": 0.2}, number=2)

    found = diff(old, new)

    assert found.identical
    assert (found.template_diff, found.config_diff, found.config_changes) == ("", "", ())
    assert not found.template_format_changed


def test_a_changed_text_template_is_a_unified_diff_with_named_versions() -> None:
    old = version(text_template("line one\nline two\nline three"), name="support/triage")
    new = version(
        text_template("line one\nline 2 by {{ author }}\nline three"),
        number=2,
        name="support/triage",
    )

    found = diff(old, new)

    assert not found.identical
    assert found.template_diff == (
        "--- support/triage@1\n"
        "+++ support/triage@2\n"
        "@@ -1,3 +1,3 @@\n"
        " line one\n"
        "-line two\n"
        "+line 2 by {{ author }}\n"
        " line three\n"
    )
    assert found.variables_added == ("author",)
    assert found.variables_removed == ()


def test_a_trailing_newline_is_a_difference() -> None:
    found = diff(version(text_template("a")), version(text_template("a\n"), number=2))

    assert "+" in found.template_diff
    assert not found.identical


def test_config_changes_are_listed_key_by_key_through_nested_objects() -> None:
    old = version(
        text_template("x"),
        config={"model": "gpt-4o", "temperature": 0.2, "format": {"type": "json", "strict": True}},
    )
    new = version(
        text_template("x"),
        number=2,
        config={"model": "gpt-4o", "max_tokens": 100, "format": {"type": "text", "strict": 1}},
    )

    found = diff(old, new)

    assert found.config_changes == (
        ConfigChange("format.strict", ChangeType.CHANGED, True, 1),
        ConfigChange("format.type", ChangeType.CHANGED, "json", "text"),
        ConfigChange("max_tokens", ChangeType.ADDED, new=100),
        ConfigChange("temperature", ChangeType.REMOVED, old=0.2),
    )
    assert '-  "temperature": 0.2' in found.config_diff
    assert '+  "max_tokens": 100,' in found.config_diff
    assert found.template_diff == ""


def test_chat_templates_compare_message_by_message_with_role_headings() -> None:
    old = version(chat_template(("system", "Be brief."), ("placeholder", "history")))
    new = version(
        chat_template(("developer", "Be brief."), ("placeholder", "history"), ("user", "{{q}}")),
        number=2,
        config={},
    )

    found = diff(old, new)

    assert "-### system\n+### developer\n" in found.template_diff
    assert " ### placeholder: history\n+### user\n+{{q}}\n" in found.template_diff
    assert found.variables_added == ("q",)


def test_a_changed_format_is_reported() -> None:
    old = version(text_template("{{ a }}"))
    new = version(text_template("{{ a }}", TemplateFormat.JINJA2), number=2)

    found = diff(old, new)

    assert found.template_format_changed
    assert not found.identical
    assert found.template_diff == ""
