from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from switchboard.prompts.v1 import prompts_pb2 as _prompts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePromptVersionRequest(_message.Message):
    __slots__ = ("name", "type", "template_format", "text", "messages", "config", "commit_message", "author", "labels", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COMMIT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _prompts_pb2.PromptType
    template_format: _prompts_pb2.TemplateFormat
    text: str
    messages: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.ChatTemplateMessage]
    config: _struct_pb2.Struct
    commit_message: str
    author: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_prompts_pb2.PromptType, str]] = ..., template_format: _Optional[_Union[_prompts_pb2.TemplateFormat, str]] = ..., text: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_prompts_pb2.ChatTemplateMessage, _Mapping]]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., commit_message: _Optional[str] = ..., author: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class CreatePromptVersionResponse(_message.Message):
    __slots__ = ("version", "created")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    version: _prompts_pb2.PromptVersion
    created: bool
    def __init__(self, version: _Optional[_Union[_prompts_pb2.PromptVersion, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetPromptRequest(_message.Message):
    __slots__ = ("name", "version", "label")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    label: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class GetPromptResponse(_message.Message):
    __slots__ = ("version", "label")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    version: _prompts_pb2.PromptVersion
    label: str
    def __init__(self, version: _Optional[_Union[_prompts_pb2.PromptVersion, _Mapping]] = ..., label: _Optional[str] = ...) -> None: ...

class ListPromptsRequest(_message.Message):
    __slots__ = ("name_prefix", "tag", "label", "type", "page_size", "page_token")
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name_prefix: str
    tag: str
    label: str
    type: _prompts_pb2.PromptType
    page_size: int
    page_token: str
    def __init__(self, name_prefix: _Optional[str] = ..., tag: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[_Union[_prompts_pb2.PromptType, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPromptsResponse(_message.Message):
    __slots__ = ("prompts", "next_page_token")
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prompts: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.Prompt]
    next_page_token: str
    def __init__(self, prompts: _Optional[_Iterable[_Union[_prompts_pb2.Prompt, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListPromptVersionsRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPromptVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.PromptVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[_prompts_pb2.PromptVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MoveLabelRequest(_message.Message):
    __slots__ = ("name", "label", "version", "expected_version", "actor", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    version: int
    expected_version: int
    actor: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., version: _Optional[int] = ..., expected_version: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MoveLabelResponse(_message.Message):
    __slots__ = ("moved", "move")
    MOVED_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    moved: bool
    move: _prompts_pb2.LabelMove
    def __init__(self, moved: _Optional[bool] = ..., move: _Optional[_Union[_prompts_pb2.LabelMove, _Mapping]] = ...) -> None: ...

class DeleteLabelRequest(_message.Message):
    __slots__ = ("name", "label", "expected_version", "actor", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    expected_version: int
    actor: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., expected_version: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteLabelResponse(_message.Message):
    __slots__ = ("move",)
    MOVE_FIELD_NUMBER: _ClassVar[int]
    move: _prompts_pb2.LabelMove
    def __init__(self, move: _Optional[_Union[_prompts_pb2.LabelMove, _Mapping]] = ...) -> None: ...

class RollbackLabelRequest(_message.Message):
    __slots__ = ("name", "label", "version", "expected_version", "actor", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    version: int
    expected_version: int
    actor: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., version: _Optional[int] = ..., expected_version: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RollbackLabelResponse(_message.Message):
    __slots__ = ("move",)
    MOVE_FIELD_NUMBER: _ClassVar[int]
    move: _prompts_pb2.LabelMove
    def __init__(self, move: _Optional[_Union[_prompts_pb2.LabelMove, _Mapping]] = ...) -> None: ...

class ListLabelHistoryRequest(_message.Message):
    __slots__ = ("name", "label", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLabelHistoryResponse(_message.Message):
    __slots__ = ("moves", "next_page_token")
    MOVES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    moves: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.LabelMove]
    next_page_token: str
    def __init__(self, moves: _Optional[_Iterable[_Union[_prompts_pb2.LabelMove, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DiffPromptVersionsRequest(_message.Message):
    __slots__ = ("name", "from_version", "from_label", "to_version", "to_label")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    FROM_LABEL_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_LABEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    from_version: int
    from_label: str
    to_version: int
    to_label: str
    def __init__(self, name: _Optional[str] = ..., from_version: _Optional[int] = ..., from_label: _Optional[str] = ..., to_version: _Optional[int] = ..., to_label: _Optional[str] = ...) -> None: ...

class DiffPromptVersionsResponse(_message.Message):
    __slots__ = ("from_version", "to_version", "identical", "template_diff", "config_diff", "config_changes", "template_format_changed", "variables_added", "variables_removed")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    IDENTICAL_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_DIFF_FIELD_NUMBER: _ClassVar[int]
    CONFIG_DIFF_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGES_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FORMAT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_ADDED_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    from_version: int
    to_version: int
    identical: bool
    template_diff: str
    config_diff: str
    config_changes: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.ConfigChange]
    template_format_changed: bool
    variables_added: _containers.RepeatedScalarFieldContainer[str]
    variables_removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., identical: _Optional[bool] = ..., template_diff: _Optional[str] = ..., config_diff: _Optional[str] = ..., config_changes: _Optional[_Iterable[_Union[_prompts_pb2.ConfigChange, _Mapping]]] = ..., template_format_changed: _Optional[bool] = ..., variables_added: _Optional[_Iterable[str]] = ..., variables_removed: _Optional[_Iterable[str]] = ...) -> None: ...

class RenderPromptRequest(_message.Message):
    __slots__ = ("name", "version", "label", "variables", "placeholders")
    class PlaceholdersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _prompts_pb2.MessageList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_prompts_pb2.MessageList, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    label: str
    variables: _struct_pb2.Struct
    placeholders: _containers.MessageMap[str, _prompts_pb2.MessageList]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., placeholders: _Optional[_Mapping[str, _prompts_pb2.MessageList]] = ...) -> None: ...

class RenderPromptResponse(_message.Message):
    __slots__ = ("name", "version", "label", "type", "text", "messages", "config", "unused_variables", "unused_placeholders")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    UNUSED_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    UNUSED_PLACEHOLDERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    label: str
    type: _prompts_pb2.PromptType
    text: str
    messages: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.ChatMessage]
    config: _struct_pb2.Struct
    unused_variables: _containers.RepeatedScalarFieldContainer[str]
    unused_placeholders: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ..., type: _Optional[_Union[_prompts_pb2.PromptType, str]] = ..., text: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_prompts_pb2.ChatMessage, _Mapping]]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., unused_variables: _Optional[_Iterable[str]] = ..., unused_placeholders: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchPromptChangesRequest(_message.Message):
    __slots__ = ("name_prefix", "after_sequence")
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    name_prefix: str
    after_sequence: int
    def __init__(self, name_prefix: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchPromptChangesResponse(_message.Message):
    __slots__ = ("changes", "sequence", "reset")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[_prompts_pb2.PromptChange]
    sequence: int
    reset: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[_prompts_pb2.PromptChange, _Mapping]]] = ..., sequence: _Optional[int] = ..., reset: _Optional[bool] = ...) -> None: ...
