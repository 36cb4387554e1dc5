"""The registry's behaviour over gRPC, on SQLite and on PostgreSQL: versions, reads, lists,
labels and their history, rollbacks, diffs, renders, and bad input."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb

from .conftest import RunningPrompts, StartPrompts
from .prompt_calls import chat_version, create, details, struct, text_version


async def test_the_first_version_creates_the_prompt_and_latest_points_at_it(
    prompts: RunningPrompts,
) -> None:
    reply = await prompts.stub.CreatePromptVersion(
        text_version(
            "support/greet",
            "Hello {{ name }}, about {{topic}}",
            config={"model": "gpt-4o", "temperature": 0.2, "max_tokens": 300},
            commit_message="first draft",
            author="ada",
            tags=["support", "greeting"],
        )
    )

    version = reply.version
    assert reply.created
    assert (version.name, version.version, version.type) == (
        "support/greet",
        1,
        res.PROMPT_TYPE_TEXT,
    )
    assert version.template_format == res.TEMPLATE_FORMAT_MUSTACHE
    assert list(version.variables) == ["name", "topic"]
    assert json_format.MessageToDict(version.config) == {
        "model": "gpt-4o",
        "temperature": 0.2,
        "max_tokens": 300,
    }
    assert (version.commit_message, version.author) == ("first draft", "ada")
    assert list(version.labels) == ["latest"]
    assert list(version.tags) == ["greeting", "support"]
    assert len(version.content_hash) == 64


async def test_a_read_names_production_by_default(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "one")
    await create(prompts.stub, "p", "two", labels=["production"])
    await create(prompts.stub, "p", "three")

    default = await prompts.stub.GetPrompt(pb.GetPromptRequest(name="p"))
    latest = await prompts.stub.GetPrompt(pb.GetPromptRequest(name="p", label="latest"))
    first = await prompts.stub.GetPrompt(pb.GetPromptRequest(name="p", version=1))

    assert (default.label, default.version.version, default.version.text) == (
        "production",
        2,
        "two",
    )
    assert (latest.label, latest.version.version) == ("latest", 3)
    assert (first.label, first.version.text, list(first.version.labels)) == ("", "one", [])


async def test_saving_the_same_content_again_returns_the_existing_version(
    prompts: RunningPrompts,
) -> None:
    first = await prompts.stub.CreatePromptVersion(
        text_version("p", "same", config={"b": 2, "a": 1}, commit_message="v1", author="ada")
    )
    await create(prompts.stub, "p", "different")

    again = await prompts.stub.CreatePromptVersion(
        text_version(
            "p",
            "same",
            config={"a": 1.0, "b": 2},
            commit_message="retry",
            author="bob",
            labels=["staging"],
        )
    )

    assert not again.created
    assert again.version.version == 1
    assert again.version.content_hash == first.version.content_hash
    assert (again.version.commit_message, again.version.author) == ("v1", "ada")
    assert list(again.version.labels) == ["staging"]  # labels named apply to the returned one
    listed = await prompts.stub.ListPromptVersions(pb.ListPromptVersionsRequest(name="p"))
    assert [v.version for v in listed.versions] == [2, 1]


async def test_a_chat_prompt_keeps_its_messages_and_placeholders(prompts: RunningPrompts) -> None:
    reply = await prompts.stub.CreatePromptVersion(
        chat_version(
            "chat/helper",
            [("system", "You help {{ customer }}."), ("placeholder", "history"), ("user", "{{q}}")],
        )
    )

    version = reply.version
    assert version.type == res.PROMPT_TYPE_CHAT
    assert [(m.role, m.content, m.placeholder) for m in version.messages] == [
        ("system", "You help {{ customer }}.", ""),
        ("", "", "history"),
        ("user", "{{q}}", ""),
    ]
    assert list(version.variables) == ["customer", "q"]
    assert list(version.placeholders) == ["history"]


async def test_a_prompt_keeps_the_type_of_its_first_version(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "text")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.CreatePromptVersion(chat_version("p", [("user", "chat")]))

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    reason, metadata, _ = details(caught.value)
    assert (reason, metadata) == ("PROMPT_TYPE_MISMATCH", {"name": "p", "type": "text"})
    listed = await prompts.stub.ListPromptVersions(pb.ListPromptVersionsRequest(name="p"))
    assert len(listed.versions) == 1


async def test_an_explicit_type_must_match_the_template_given(prompts: RunningPrompts) -> None:
    request = text_version("p", "text", type=res.PROMPT_TYPE_CHAT)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.CreatePromptVersion(request)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details(caught.value)[2]) == {"text", "messages"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.CreatePromptVersionRequest(name="", text="x"), "name"),
        (pb.CreatePromptVersionRequest(name="Has Spaces", text="x"), "name"),
        (pb.CreatePromptVersionRequest(name="a//b", text="x"), "name"),
        (pb.CreatePromptVersionRequest(name="ok", text=""), "text"),
        (pb.CreatePromptVersionRequest(name="ok", text="{{ x"), "text"),
        (pb.CreatePromptVersionRequest(name="ok", text="x", type=9), "type"),  # type: ignore[arg-type]
        (pb.CreatePromptVersionRequest(name="ok", text="x", template_format=7), "template_format"),  # type: ignore[arg-type]
        (pb.CreatePromptVersionRequest(name="ok", text="x", labels=["latest"]), "labels[0]"),
        (pb.CreatePromptVersionRequest(name="ok", text="x", tags=["A B"]), "tags[0]"),
    ],
)
async def test_bad_versions_are_invalid_argument_and_write_nothing(
    prompts: RunningPrompts, request_: pb.CreatePromptVersionRequest, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.CreatePromptVersion(request_)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details(caught.value)[2]
    assert not (await prompts.stub.ListPrompts(pb.ListPromptsRequest())).prompts


async def test_an_oversize_template_is_refused_at_the_configured_limit(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts(max_template_bytes=1000) as prompts:
        await create(prompts.stub, "p", "x" * 1000)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create(prompts.stub, "p", "x" * 1001)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(caught.value)[2] == {
        "text": "at most 1000 bytes of UTF-8 (this template has 1001)"
    }


@pytest.mark.parametrize(
    ("request_", "code", "reason", "metadata"),
    [
        (
            pb.GetPromptRequest(name="missing"),
            grpc.StatusCode.NOT_FOUND,
            "PROMPT_NOT_FOUND",
            {"name": "missing"},
        ),
        (
            pb.GetPromptRequest(name="p"),
            grpc.StatusCode.NOT_FOUND,
            "LABEL_NOT_FOUND",
            {"name": "p", "label": "production"},
        ),
        (
            pb.GetPromptRequest(name="p", label="staging"),
            grpc.StatusCode.NOT_FOUND,
            "LABEL_NOT_FOUND",
            {"name": "p", "label": "staging"},
        ),
        (
            pb.GetPromptRequest(name="p", version=9),
            grpc.StatusCode.NOT_FOUND,
            "VERSION_NOT_FOUND",
            {"name": "p", "version": "9"},
        ),
    ],
)
async def test_unknown_prompts_labels_and_versions_are_not_found_with_details(
    prompts: RunningPrompts,
    request_: pb.GetPromptRequest,
    code: grpc.StatusCode,
    reason: str,
    metadata: dict[str, str],
) -> None:
    await create(prompts.stub, "p", "x")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.GetPrompt(request_)

    assert caught.value.code() == code
    assert details(caught.value)[:2] == (reason, metadata)


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.GetPromptRequest(name=""), {"name"}),
        (pb.GetPromptRequest(name="p", version=1, label="production"), {"label"}),
        (pb.GetPromptRequest(name="p", label="Not A Label"), {"label"}),
        (pb.GetPromptRequest(name="p", version=-1), {"version"}),
    ],
)
async def test_bad_reads_are_invalid_argument(
    prompts: RunningPrompts, request_: pb.GetPromptRequest, fields: set[str]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.GetPrompt(request_)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details(caught.value)[2]) == fields


async def test_prompts_are_listed_by_name_with_filters_a_page_at_a_time(
    prompts: RunningPrompts,
) -> None:
    for name, tags, labels in [
        ("support/triage", ["ops"], ["production"]),
        ("support/reply", ["ops", "email"], []),
        ("support_x/other", [], ["production"]),
        ("sales/pitch", ["email"], ["staging"]),
        ("support/escalate", [], []),
    ]:
        await create(prompts.stub, name, f"text of {name}", tags=tags, labels=labels)
    await prompts.stub.CreatePromptVersion(chat_version("support/chat", [("user", "hi")]))

    async def names(**filters: object) -> list[str]:
        reply = await prompts.stub.ListPrompts(pb.ListPromptsRequest(**filters))  # type: ignore[arg-type]
        return [p.name for p in reply.prompts]

    assert await names(name_prefix="support/") == [
        "support/chat",
        "support/escalate",
        "support/reply",
        "support/triage",
    ]
    assert await names(tag="email") == ["sales/pitch", "support/reply"]
    assert await names(label="production") == ["support/triage", "support_x/other"]
    assert await names(label="production", name_prefix="support/") == ["support/triage"]
    assert await names(type=res.PROMPT_TYPE_CHAT) == ["support/chat"]

    seen, token = [], ""
    while True:
        page = await prompts.stub.ListPrompts(pb.ListPromptsRequest(page_size=2, page_token=token))
        assert len(page.prompts) <= 2
        seen += [p.name for p in page.prompts]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(seen)
    assert len(seen) == 6

    triage = (
        await prompts.stub.ListPrompts(pb.ListPromptsRequest(name_prefix="support/t"))
    ).prompts[0]
    assert dict(triage.labels) == {"latest": 1, "production": 1}
    assert (list(triage.tags), triage.latest_version) == (["ops"], 1)


async def test_a_page_token_only_works_with_its_own_filters(prompts: RunningPrompts) -> None:
    for i in range(3):
        await create(prompts.stub, f"p{i}", "x", tags=["t"])
    page = await prompts.stub.ListPrompts(pb.ListPromptsRequest(page_size=1, tag="t"))

    for request in (
        pb.ListPromptsRequest(page_size=1, page_token=page.next_page_token),
        pb.ListPromptsRequest(page_token="not-a-token"),
        pb.ListPromptsRequest(page_size=-1),
        pb.ListPromptsRequest(name_prefix="/bad"),
        pb.ListPromptsRequest(type=12),  # type: ignore[arg-type]
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await prompts.stub.ListPrompts(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_versions_are_listed_newest_first_with_their_labels(prompts: RunningPrompts) -> None:
    for i in range(5):
        await create(prompts.stub, "p", f"text {i}", labels=["production"] if i == 1 else [])

    first = await prompts.stub.ListPromptVersions(
        pb.ListPromptVersionsRequest(name="p", page_size=3)
    )
    rest = await prompts.stub.ListPromptVersions(
        pb.ListPromptVersionsRequest(name="p", page_size=3, page_token=first.next_page_token)
    )

    assert [v.version for v in first.versions] == [5, 4, 3]
    assert [v.version for v in rest.versions] == [2, 1]
    assert rest.next_page_token == ""
    assert list(first.versions[0].labels) == ["latest"]
    assert list(rest.versions[0].labels) == ["production"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.ListPromptVersions(pb.ListPromptVersionsRequest(name="missing"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_label_moves_only_from_the_version_it_is_expected_at(
    prompts: RunningPrompts,
) -> None:
    for i in range(3):
        await create(prompts.stub, "p", f"v{i + 1}")

    created = await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(name="p", label="production", version=1, expected_version=0)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.MoveLabel(
            pb.MoveLabelRequest(name="p", label="production", version=3, expected_version=2)
        )
    moved = await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(
            name="p", label="production", version=2, expected_version=1, actor="ada", reason="ok"
        )
    )
    unchanged = await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(name="p", label="production", version=2)
    )

    assert created.moved
    assert (created.move.from_version, created.move.to_version) == (0, 1)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(caught.value)[:2] == (
        "LABEL_VERSION_MISMATCH",
        {"name": "p", "label": "production", "expected_version": "2", "current_version": "1"},
    )
    assert moved.moved
    assert (moved.move.from_version, moved.move.to_version, moved.move.actor) == (1, 2, "ada")
    assert (moved.move.action, moved.move.reason) == (res.LABEL_ACTION_MOVE, "ok")
    assert not unchanged.moved
    assert not unchanged.HasField("move")
    current = await prompts.stub.GetPrompt(pb.GetPromptRequest(name="p"))
    assert current.version.version == 2


@pytest.mark.parametrize(
    ("request_", "code", "field_or_reason"),
    [
        (pb.MoveLabelRequest(name="p", label="latest", version=1), "INVALID_ARGUMENT", "label"),
        (pb.MoveLabelRequest(name="p", label="prod", version=0), "INVALID_ARGUMENT", "version"),
        (pb.MoveLabelRequest(name="p", label="", version=1), "INVALID_ARGUMENT", "label"),
        (
            pb.MoveLabelRequest(name="p", label="x", version=1, expected_version=-1),
            "INVALID_ARGUMENT",
            "expected_version",
        ),
        (
            pb.MoveLabelRequest(name="p", label="x", version=1, actor="a" * 201),
            "INVALID_ARGUMENT",
            "actor",
        ),
        (pb.MoveLabelRequest(name="p", label="prod", version=7), "NOT_FOUND", "VERSION_NOT_FOUND"),
        (pb.MoveLabelRequest(name="q", label="prod", version=1), "NOT_FOUND", "PROMPT_NOT_FOUND"),
    ],
)
async def test_bad_label_moves_change_nothing(
    prompts: RunningPrompts, request_: pb.MoveLabelRequest, code: str, field_or_reason: str
) -> None:
    await create(prompts.stub, "p", "x")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.MoveLabel(request_)

    assert caught.value.code().name == code
    reason, _, fields = details(caught.value)
    assert field_or_reason in fields or reason == field_or_reason
    history = await prompts.stub.ListLabelHistory(pb.ListLabelHistoryRequest(name="p"))
    assert [m.label for m in history.moves] == ["latest"]


async def test_a_label_can_be_deleted_and_its_reads_are_not_found(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "x", labels=["staging"])

    with pytest.raises(grpc.aio.AioRpcError) as mismatch:
        await prompts.stub.DeleteLabel(
            pb.DeleteLabelRequest(name="p", label="staging", expected_version=2)
        )
    deleted = await prompts.stub.DeleteLabel(
        pb.DeleteLabelRequest(name="p", label="staging", expected_version=1, actor="ada")
    )

    assert mismatch.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (deleted.move.from_version, deleted.move.to_version) == (1, 0)
    assert deleted.move.action == res.LABEL_ACTION_DELETE
    for request in (
        pb.GetPromptRequest(name="p", label="staging"),
        pb.GetPromptRequest(name="p", label="staging"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await prompts.stub.GetPrompt(request)
        assert details(caught.value)[0] == "LABEL_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await prompts.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="staging"))
    assert again.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as latest:
        await prompts.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="latest"))
    assert latest.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_rollback_returns_to_the_previous_earlier_version_or_the_one_named(
    prompts: RunningPrompts,
) -> None:
    for i in range(4):
        await create(prompts.stub, "p", f"v{i + 1}")
    for version in (1, 2, 4):
        await prompts.stub.MoveLabel(
            pb.MoveLabelRequest(name="p", label="production", version=version)
        )

    back = await prompts.stub.RollbackLabel(
        pb.RollbackLabelRequest(name="p", label="production", actor="oncall", reason="bad")
    )
    further = await prompts.stub.RollbackLabel(
        pb.RollbackLabelRequest(name="p", label="production")
    )
    with pytest.raises(grpc.aio.AioRpcError) as nothing_earlier:
        await prompts.stub.RollbackLabel(pb.RollbackLabelRequest(name="p", label="production"))
    with pytest.raises(grpc.aio.AioRpcError) as not_earlier:
        await prompts.stub.RollbackLabel(
            pb.RollbackLabelRequest(name="p", label="production", version=3)
        )
    named = await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(name="p", label="production", version=4)
    )
    to_three = await prompts.stub.RollbackLabel(
        pb.RollbackLabelRequest(name="p", label="production", version=3, expected_version=4)
    )

    assert (back.move.from_version, back.move.to_version) == (4, 2)
    assert (back.move.action, back.move.actor, back.move.reason) == (
        res.LABEL_ACTION_ROLLBACK,
        "oncall",
        "bad",
    )
    assert (further.move.from_version, further.move.to_version) == (2, 1)
    assert nothing_earlier.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(nothing_earlier.value)[0] == "NO_EARLIER_VERSION"
    assert not_earlier.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named.moved
    assert (to_three.move.from_version, to_three.move.to_version) == (4, 3)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await prompts.stub.RollbackLabel(pb.RollbackLabelRequest(name="p", label="staging"))
    assert details(unknown.value)[0] == "LABEL_NOT_FOUND"


async def test_the_label_history_is_complete_after_moves_and_rollbacks(
    prompts: RunningPrompts,
) -> None:
    await create(prompts.stub, "p", "v1", author="ada", labels=["production"])
    await create(prompts.stub, "p", "v2", author="bob")
    await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(name="p", label="production", version=2, actor="bob", reason="ship")
    )
    await prompts.stub.MoveLabel(
        pb.MoveLabelRequest(name="p", label="staging", version=2, actor="cy")
    )
    await prompts.stub.RollbackLabel(
        pb.RollbackLabelRequest(name="p", label="production", actor="oncall", reason="regression")
    )
    await create(prompts.stub, "p", "v3", author="bob")
    await prompts.stub.DeleteLabel(pb.DeleteLabelRequest(name="p", label="staging", actor="cy"))

    everything = await prompts.stub.ListLabelHistory(pb.ListLabelHistoryRequest(name="p"))
    production = await prompts.stub.ListLabelHistory(
        pb.ListLabelHistoryRequest(name="p", label="production")
    )

    assert [
        (m.label, m.from_version, m.to_version, m.action, m.actor) for m in everything.moves
    ] == [
        ("staging", 2, 0, res.LABEL_ACTION_DELETE, "cy"),
        ("latest", 2, 3, res.LABEL_ACTION_MOVE, "bob"),
        ("production", 2, 1, res.LABEL_ACTION_ROLLBACK, "oncall"),
        ("staging", 0, 2, res.LABEL_ACTION_MOVE, "cy"),
        ("production", 1, 2, res.LABEL_ACTION_MOVE, "bob"),
        ("latest", 1, 2, res.LABEL_ACTION_MOVE, "bob"),
        ("production", 0, 1, res.LABEL_ACTION_MOVE, "ada"),
        ("latest", 0, 1, res.LABEL_ACTION_MOVE, "ada"),
    ]
    assert [m.reason for m in production.moves] == [
        "regression",
        "ship",
        "named by CreatePromptVersion",
    ]
    times = [m.move_time.ToDatetime() for m in everything.moves]
    assert times == sorted(times, reverse=True)

    pages, token = [], ""
    while True:
        page = await prompts.stub.ListLabelHistory(
            pb.ListLabelHistoryRequest(name="p", page_size=3, page_token=token)
        )
        pages.append([(m.label, m.to_version) for m in page.moves])
        token = page.next_page_token
        if not token:
            break
    assert [m for p in pages for m in p] == [(m.label, m.to_version) for m in everything.moves]
    assert len(pages) == 3


async def test_versions_never_change_whatever_happens_to_the_prompt(
    prompts: RunningPrompts,
) -> None:
    first = await create(prompts.stub, "p", "Hi {{ name }}", config={"temperature": 0.1})
    await create(
        prompts.stub, "p", "Hi {{ name }}", config={"temperature": 0.1}, commit_message="x"
    )
    await create(prompts.stub, "p", "Hello {{ name }}", labels=["production"], tags=["t"])
    await prompts.stub.MoveLabel(pb.MoveLabelRequest(name="p", label="production", version=1))
    await prompts.stub.MoveLabel(pb.MoveLabelRequest(name="p", label="production", version=2))
    await prompts.stub.RollbackLabel(pb.RollbackLabelRequest(name="p", label="production"))

    after = (await prompts.stub.GetPrompt(pb.GetPromptRequest(name="p", version=1))).version

    for field in ("text", "config", "variables", "content_hash", "commit_message", "create_time"):
        assert getattr(after, field) == getattr(first, field)
    # No RPC of the service updates or deletes a version: its writes are creating versions and
    # moving labels.
    methods = [m.name for m in pb.DESCRIPTOR.services_by_name["PromptService"].methods]
    assert not [
        m
        for m in methods
        if m.startswith(("Update", "Patch", "Delete", "Set")) and "Label" not in m
    ]


async def test_two_versions_differ_in_template_and_config(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "Hello {{ name }}\nBye", config={"temperature": 0.2})
    await create(
        prompts.stub,
        "p",
        "Hello {{ name }}\nSee you, {{ name }}",
        config={"temperature": 0.7, "model": "gpt-4o"},
        labels=["production"],
    )

    found = await prompts.stub.DiffPromptVersions(
        pb.DiffPromptVersionsRequest(name="p", from_version=1, to_label="production")
    )

    assert (found.from_version, found.to_version, found.identical) == (1, 2, False)
    assert "-Bye\n+See you, {{ name }}\n" in found.template_diff
    assert '-  "temperature": 0.2' in found.config_diff
    changes = {c.path: c for c in found.config_changes}
    assert changes["model"].kind == res.CONFIG_CHANGE_KIND_ADDED
    assert not changes["model"].HasField("old_value")
    assert changes["model"].new_value.string_value == "gpt-4o"
    assert changes["temperature"].kind == res.CONFIG_CHANGE_KIND_CHANGED
    assert (
        changes["temperature"].old_value.number_value,
        changes["temperature"].new_value.number_value,
    ) == (0.2, 0.7)
    same = await prompts.stub.DiffPromptVersions(
        pb.DiffPromptVersionsRequest(name="p", from_label="latest", to_version=2)
    )
    assert same.identical
    assert not same.template_diff


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.DiffPromptVersionsRequest(name="p", to_version=1), "INVALID_ARGUMENT"),
        (
            pb.DiffPromptVersionsRequest(name="p", from_version=1, from_label="x", to_version=1),
            "INVALID_ARGUMENT",
        ),
        (pb.DiffPromptVersionsRequest(name="p", from_version=1, to_version=5), "NOT_FOUND"),
        (pb.DiffPromptVersionsRequest(name="p", from_version=1, to_label="staging"), "NOT_FOUND"),
    ],
)
async def test_bad_diffs_are_refused(
    prompts: RunningPrompts, request_: pb.DiffPromptVersionsRequest, code: str
) -> None:
    await create(prompts.stub, "p", "x")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.DiffPromptVersions(request_)

    assert caught.value.code().name == code


async def test_render_returns_the_text_the_config_and_what_was_unused(
    prompts: RunningPrompts,
) -> None:
    await create(
        prompts.stub,
        "p",
        "Translate {{ text }} to {{ language }}.",
        config={"model": "gpt-4o", "max_tokens": 100},
        labels=["production"],
    )

    rendered = await prompts.stub.RenderPrompt(
        pb.RenderPromptRequest(
            name="p", variables=struct({"text": "bonjour", "language": "English", "extra": 1})
        )
    )

    assert (rendered.name, rendered.version, rendered.label) == ("p", 1, "production")
    assert rendered.type == res.PROMPT_TYPE_TEXT
    assert rendered.text == "Translate bonjour to English."
    assert json_format.MessageToDict(rendered.config) == {"model": "gpt-4o", "max_tokens": 100}
    assert list(rendered.unused_variables) == ["extra"]
    assert prompts.metric("prompts_renders_total", format="mustache", outcome="ok") == 1


async def test_render_fills_chat_placeholders(prompts: RunningPrompts) -> None:
    await prompts.stub.CreatePromptVersion(
        chat_version(
            "chat", [("system", "Help {{ who }}."), ("placeholder", "history"), ("user", "{{q}}")]
        )
    )
    history = res.MessageList(
        messages=[
            res.ChatMessage(role="user", content="hi"),
            res.ChatMessage(role="assistant", content="hello", name="bot"),
        ]
    )

    rendered = await prompts.stub.RenderPrompt(
        pb.RenderPromptRequest(
            name="chat",
            label="latest",
            variables=struct({"who": "Ada", "q": "why?"}),
            placeholders={"history": history, "unused": res.MessageList()},
        )
    )

    assert [(m.role, m.content, m.name) for m in rendered.messages] == [
        ("system", "Help Ada.", ""),
        ("user", "hi", ""),
        ("assistant", "hello", "bot"),
        ("user", "why?", ""),
    ]
    assert list(rendered.unused_placeholders) == ["unused"]
    assert rendered.text == ""


async def test_a_missing_variable_is_invalid_argument_naming_it(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "{{ a }} and {{ b }}", labels=["production"])

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.RenderPrompt(
            pb.RenderPromptRequest(name="p", variables=struct({"a": "x"}))
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, _, fields = details(caught.value)
    assert (reason, fields) == (
        "PROMPT_VARIABLES_MISSING",
        {"variables.b": "is required by version 1"},
    )
    assert prompts.metric("prompts_renders_total", format="mustache", outcome="invalid") == 1


async def test_a_jinja2_version_refuses_python_internals_over_grpc(
    prompts: RunningPrompts,
) -> None:
    await create(
        prompts.stub,
        "p",
        "{{ name.__class__.__base__.__subclasses__() }}",
        template_format=res.TEMPLATE_FORMAT_JINJA2,
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.RenderPrompt(
            pb.RenderPromptRequest(name="p", version=1, variables=struct({"name": "x"}))
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(caught.value)[0] == "TEMPLATE_UNSAFE"


async def test_placeholder_messages_need_a_role(prompts: RunningPrompts) -> None:
    await prompts.stub.CreatePromptVersion(chat_version("c", [("placeholder", "h")]))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prompts.stub.RenderPrompt(
            pb.RenderPromptRequest(
                name="c",
                version=1,
                placeholders={"h": res.MessageList(messages=[res.ChatMessage(content="x")])},
            )
        )

    assert set(details(caught.value)[2]) == {"placeholders.h.messages[0].role"}


async def test_tags_are_replaced_when_given_and_kept_when_not(prompts: RunningPrompts) -> None:
    await create(prompts.stub, "p", "v1", tags=["a", "b"])
    kept = await create(prompts.stub, "p", "v2")
    replaced = await create(prompts.stub, "p", "v3", tags=["c"])
    tagged_b = await prompts.stub.ListPrompts(pb.ListPromptsRequest(tag="b"))

    assert list(kept.tags) == ["a", "b"]
    assert list(replaced.tags) == ["c"]
    assert not tagged_b.prompts
