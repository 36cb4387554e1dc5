"""Protobuf messages of switchboard.prompts.v1 to the registry's types and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb

from services.prompts.diff import ChangeType, VersionDiff
from services.prompts.json_values import normalize
from services.prompts.labels import LabelRequest
from services.prompts.listing import PromptFilter
from services.prompts.model import (
    Change,
    ChangeKind,
    ChatEntry,
    Draft,
    LabelAction,
    LabelMove,
    PromptSummary,
    PromptType,
    Selector,
    Template,
    TemplateFormat,
    Version,
)
from services.prompts.rendering import Message, Rendered
from svckit.errors import Violations

TYPES = {res.PROMPT_TYPE_TEXT: PromptType.TEXT, res.PROMPT_TYPE_CHAT: PromptType.CHAT}
TYPE_VALUES = {kind: value for value, kind in TYPES.items()}
FORMATS = {
    res.TEMPLATE_FORMAT_UNSPECIFIED: TemplateFormat.MUSTACHE,
    res.TEMPLATE_FORMAT_MUSTACHE: TemplateFormat.MUSTACHE,
    res.TEMPLATE_FORMAT_JINJA2: TemplateFormat.JINJA2,
}
FORMAT_VALUES = {
    TemplateFormat.MUSTACHE: res.TEMPLATE_FORMAT_MUSTACHE,
    TemplateFormat.JINJA2: res.TEMPLATE_FORMAT_JINJA2,
}
ACTIONS = {
    LabelAction.MOVE: res.LABEL_ACTION_MOVE,
    LabelAction.DELETE: res.LABEL_ACTION_DELETE,
    LabelAction.ROLLBACK: res.LABEL_ACTION_ROLLBACK,
}
CHANGES = {
    ChangeKind.VERSION_CREATED: res.CHANGE_KIND_VERSION_CREATED,
    ChangeKind.LABEL_MOVED: res.CHANGE_KIND_LABEL_MOVED,
    ChangeKind.LABEL_DELETED: res.CHANGE_KIND_LABEL_DELETED,
    ChangeKind.TAGS_CHANGED: res.CHANGE_KIND_TAGS_CHANGED,
}
CONFIG_CHANGES = {
    ChangeType.ADDED: res.CONFIG_CHANGE_KIND_ADDED,
    ChangeType.REMOVED: res.CONFIG_CHANGE_KIND_REMOVED,
    ChangeType.CHANGED: res.CONFIG_CHANGE_KIND_CHANGED,
}


def as_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(normalize(json_format.MessageToDict(message)))


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


def value(item: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(item, message)
    return message


def timestamp(moment: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(moment)
    return message


def draft(request: pb.CreatePromptVersionRequest) -> Draft:
    """The draft asked for; an unset type is the template's shape (chat when it has messages)."""
    v = Violations()
    _check_enum(v, request.type, res.PromptType, "type")
    _check_enum(v, request.template_format, res.TemplateFormat, "template_format")
    v.raise_if_any()
    kind = TYPES.get(request.type)
    if kind is None:
        kind = PromptType.CHAT if request.messages else PromptType.TEXT
    template = Template(
        type=kind,
        format=FORMATS[request.template_format],
        text=request.text,
        messages=tuple(
            ChatEntry(role=m.role, content=m.content, placeholder=m.placeholder)
            for m in request.messages
        ),
    )
    return Draft(
        name=request.name,
        template=template,
        config=as_dict(request.config),
        commit_message=request.commit_message,
        author=request.author,
        labels=tuple(request.labels),
        tags=tuple(request.tags) if request.tags else None,
    )


def selector(version: int, label: str) -> Selector:
    return Selector(version=version, label=label)


def label_request(request: Any) -> LabelRequest:
    """From a MoveLabel, DeleteLabel or RollbackLabel request."""
    return LabelRequest(
        name=request.name,
        label=request.label,
        version=getattr(request, "version", 0),
        expected_version=(
            request.expected_version if request.HasField("expected_version") else None
        ),
        actor=request.actor,
        reason=request.reason,
    )


def prompt_filter(request: pb.ListPromptsRequest) -> PromptFilter:
    v = Violations()
    _check_enum(v, request.type, res.PromptType, "type")
    v.raise_if_any()
    return PromptFilter(
        name_prefix=request.name_prefix,
        tag=request.tag,
        label=request.label,
        type=TYPES.get(request.type),
    )


def _check_enum(v: Violations, number: int, enum: Any, field: str) -> None:
    v.check(number in enum.values(), field, "is not a known value")


def placeholders(values: Mapping[str, res.MessageList]) -> dict[str, list[Message]]:
    return {
        name: [Message(m.role, m.content, m.name) for m in listed.messages]
        for name, listed in values.items()
    }


def version_message(version: Version) -> res.PromptVersion:
    template = version.template
    return res.PromptVersion(
        name=version.name,
        version=version.number,
        type=TYPE_VALUES[template.type],
        template_format=FORMAT_VALUES[template.format],
        text=template.text,
        messages=[
            res.ChatTemplateMessage(role=e.role, content=e.content, placeholder=e.placeholder)
            for e in template.messages
        ],
        config=struct(version.config),
        variables=version.variables,
        placeholders=version.placeholders,
        content_hash=version.content_hash,
        commit_message=version.commit_message,
        author=version.author,
        create_time=timestamp(version.created_at),
        labels=version.labels,
        tags=version.tags,
    )


def version_from_message(message: res.PromptVersion) -> Version:
    """The registry's Version from its message (the cached client renders from these)."""
    template = Template(
        type=TYPES[message.type],
        format=FORMATS[message.template_format],
        text=message.text,
        messages=tuple(
            ChatEntry(role=m.role, content=m.content, placeholder=m.placeholder)
            for m in message.messages
        ),
    )
    return Version(
        name=message.name,
        number=message.version,
        template=template,
        config=as_dict(message.config),
        variables=tuple(message.variables),
        content_hash=message.content_hash,
        commit_message=message.commit_message,
        author=message.author,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        labels=tuple(message.labels),
        tags=tuple(message.tags),
    )


def prompt_message(prompt: PromptSummary) -> res.Prompt:
    return res.Prompt(
        name=prompt.name,
        type=TYPE_VALUES[prompt.type],
        tags=prompt.tags,
        latest_version=prompt.latest_version,
        labels=dict(prompt.labels),
        create_time=timestamp(prompt.created_at),
        update_time=timestamp(prompt.updated_at),
    )


def move_message(move: LabelMove) -> res.LabelMove:
    return res.LabelMove(
        name=move.name,
        label=move.label,
        from_version=move.from_version,
        to_version=move.to_version,
        action=ACTIONS[move.action],
        actor=move.actor,
        reason=move.reason,
        move_time=timestamp(move.moved_at),
    )


def change_message(change: Change) -> res.PromptChange:
    message = res.PromptChange(
        sequence=change.sequence,
        kind=CHANGES[change.kind],
        name=change.name,
        version=change.version,
        label=change.label,
    )
    if change.changed_at is not None:
        message.change_time.CopyFrom(timestamp(change.changed_at))
    return message


def diff_message(found: VersionDiff) -> pb.DiffPromptVersionsResponse:
    changes = []
    for change in found.config_changes:
        item = res.ConfigChange(path=change.path, kind=CONFIG_CHANGES[change.kind])
        if change.kind is not ChangeType.ADDED:
            item.old_value.CopyFrom(value(change.old))
        if change.kind is not ChangeType.REMOVED:
            item.new_value.CopyFrom(value(change.new))
        changes.append(item)
    return pb.DiffPromptVersionsResponse(
        from_version=found.from_version,
        to_version=found.to_version,
        identical=found.identical,
        template_diff=found.template_diff,
        config_diff=found.config_diff,
        config_changes=changes,
        template_format_changed=found.template_format_changed,
        variables_added=found.variables_added,
        variables_removed=found.variables_removed,
    )


def render_message(rendered: Rendered, label: str) -> pb.RenderPromptResponse:
    version = rendered.version
    return pb.RenderPromptResponse(
        name=version.name,
        version=version.number,
        label=label,
        type=TYPE_VALUES[version.type],
        text=rendered.text,
        messages=[
            res.ChatMessage(role=m.role, content=m.content, name=m.name) for m in rendered.messages
        ],
        config=struct(version.config),
        unused_variables=rendered.unused_variables,
        unused_placeholders=rendered.unused_placeholders,
    )
