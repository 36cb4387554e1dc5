import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PromptType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROMPT_TYPE_UNSPECIFIED: _ClassVar[PromptType]
    PROMPT_TYPE_TEXT: _ClassVar[PromptType]
    PROMPT_TYPE_CHAT: _ClassVar[PromptType]

class TemplateFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEMPLATE_FORMAT_UNSPECIFIED: _ClassVar[TemplateFormat]
    TEMPLATE_FORMAT_MUSTACHE: _ClassVar[TemplateFormat]
    TEMPLATE_FORMAT_JINJA2: _ClassVar[TemplateFormat]

class LabelAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_ACTION_UNSPECIFIED: _ClassVar[LabelAction]
    LABEL_ACTION_MOVE: _ClassVar[LabelAction]
    LABEL_ACTION_DELETE: _ClassVar[LabelAction]
    LABEL_ACTION_ROLLBACK: _ClassVar[LabelAction]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_VERSION_CREATED: _ClassVar[ChangeKind]
    CHANGE_KIND_LABEL_MOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_LABEL_DELETED: _ClassVar[ChangeKind]
    CHANGE_KIND_TAGS_CHANGED: _ClassVar[ChangeKind]

class ConfigChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_CHANGE_KIND_UNSPECIFIED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_ADDED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_REMOVED: _ClassVar[ConfigChangeKind]
    CONFIG_CHANGE_KIND_CHANGED: _ClassVar[ConfigChangeKind]
PROMPT_TYPE_UNSPECIFIED: PromptType
PROMPT_TYPE_TEXT: PromptType
PROMPT_TYPE_CHAT: PromptType
TEMPLATE_FORMAT_UNSPECIFIED: TemplateFormat
TEMPLATE_FORMAT_MUSTACHE: TemplateFormat
TEMPLATE_FORMAT_JINJA2: TemplateFormat
LABEL_ACTION_UNSPECIFIED: LabelAction
LABEL_ACTION_MOVE: LabelAction
LABEL_ACTION_DELETE: LabelAction
LABEL_ACTION_ROLLBACK: LabelAction
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_VERSION_CREATED: ChangeKind
CHANGE_KIND_LABEL_MOVED: ChangeKind
CHANGE_KIND_LABEL_DELETED: ChangeKind
CHANGE_KIND_TAGS_CHANGED: ChangeKind
CONFIG_CHANGE_KIND_UNSPECIFIED: ConfigChangeKind
CONFIG_CHANGE_KIND_ADDED: ConfigChangeKind
CONFIG_CHANGE_KIND_REMOVED: ConfigChangeKind
CONFIG_CHANGE_KIND_CHANGED: ConfigChangeKind

class ChatTemplateMessage(_message.Message):
    __slots__ = ("role", "content", "placeholder")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDER_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    placeholder: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., placeholder: _Optional[str] = ...) -> None: ...

class PromptVersion(_message.Message):
    __slots__ = ("name", "version", "type", "template_format", "text", "messages", "config", "variables", "placeholders", "content_hash", "commit_message", "author", "create_time", "labels", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDERS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    COMMIT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    type: PromptType
    template_format: TemplateFormat
    text: str
    messages: _containers.RepeatedCompositeFieldContainer[ChatTemplateMessage]
    config: _struct_pb2.Struct
    variables: _containers.RepeatedScalarFieldContainer[str]
    placeholders: _containers.RepeatedScalarFieldContainer[str]
    content_hash: str
    commit_message: str
    author: str
    create_time: _timestamp_pb2.Timestamp
    labels: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., type: _Optional[_Union[PromptType, str]] = ..., template_format: _Optional[_Union[TemplateFormat, str]] = ..., text: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ChatTemplateMessage, _Mapping]]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., variables: _Optional[_Iterable[str]] = ..., placeholders: _Optional[_Iterable[str]] = ..., content_hash: _Optional[str] = ..., commit_message: _Optional[str] = ..., author: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class Prompt(_message.Message):
    __slots__ = ("name", "type", "tags", "latest_version", "labels", "create_time", "update_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: PromptType
    tags: _containers.RepeatedScalarFieldContainer[str]
    latest_version: int
    labels: _containers.ScalarMap[str, int]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[PromptType, str]] = ..., tags: _Optional[_Iterable[str]] = ..., latest_version: _Optional[int] = ..., labels: _Optional[_Mapping[str, int]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LabelMove(_message.Message):
    __slots__ = ("name", "label", "from_version", "to_version", "action", "actor", "reason", "move_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MOVE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    from_version: int
    to_version: int
    action: LabelAction
    actor: str
    reason: str
    move_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., action: _Optional[_Union[LabelAction, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., move_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PromptChange(_message.Message):
    __slots__ = ("sequence", "kind", "name", "version", "label", "change_time")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    kind: ChangeKind
    name: str
    version: int
    label: str
    change_time: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., kind: _Optional[_Union[ChangeKind, str]] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("role", "content", "name")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    name: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class MessageList(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("path", "kind", "old_value", "new_value")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: ConfigChangeKind
    old_value: _struct_pb2.Value
    new_value: _struct_pb2.Value
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[ConfigChangeKind, str]] = ..., old_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., new_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
