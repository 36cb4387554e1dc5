import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlagState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLAG_STATE_UNSPECIFIED: _ClassVar[FlagState]
    FLAG_STATE_ENABLED: _ClassVar[FlagState]
    FLAG_STATE_DISABLED: _ClassVar[FlagState]

class RevisionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVISION_KIND_UNSPECIFIED: _ClassVar[RevisionKind]
    REVISION_KIND_CREATE_SET: _ClassVar[RevisionKind]
    REVISION_KIND_DELETE_SET: _ClassVar[RevisionKind]
    REVISION_KIND_IMPORT: _ClassVar[RevisionKind]
    REVISION_KIND_CREATE_FLAG: _ClassVar[RevisionKind]
    REVISION_KIND_UPDATE_FLAG: _ClassVar[RevisionKind]
    REVISION_KIND_DELETE_FLAG: _ClassVar[RevisionKind]
    REVISION_KIND_DISABLE_FLAG: _ClassVar[RevisionKind]
    REVISION_KIND_ENABLE_FLAG: _ClassVar[RevisionKind]
    REVISION_KIND_ROLLBACK: _ClassVar[RevisionKind]
    REVISION_KIND_ROLLOUT_STEP: _ClassVar[RevisionKind]
    REVISION_KIND_SOURCE_FILE: _ClassVar[RevisionKind]

class ChangeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_TYPE_UNSPECIFIED: _ClassVar[ChangeType]
    CHANGE_TYPE_WRITE: _ClassVar[ChangeType]
    CHANGE_TYPE_UPDATE: _ClassVar[ChangeType]
    CHANGE_TYPE_DELETE: _ClassVar[ChangeType]

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_UNSPECIFIED: _ClassVar[RolloutState]
    ROLLOUT_STATE_RUNNING: _ClassVar[RolloutState]
    ROLLOUT_STATE_PAUSED: _ClassVar[RolloutState]
    ROLLOUT_STATE_COMPLETED: _ClassVar[RolloutState]
    ROLLOUT_STATE_CANCELLED: _ClassVar[RolloutState]
    ROLLOUT_STATE_FAILED: _ClassVar[RolloutState]
FLAG_STATE_UNSPECIFIED: FlagState
FLAG_STATE_ENABLED: FlagState
FLAG_STATE_DISABLED: FlagState
REVISION_KIND_UNSPECIFIED: RevisionKind
REVISION_KIND_CREATE_SET: RevisionKind
REVISION_KIND_DELETE_SET: RevisionKind
REVISION_KIND_IMPORT: RevisionKind
REVISION_KIND_CREATE_FLAG: RevisionKind
REVISION_KIND_UPDATE_FLAG: RevisionKind
REVISION_KIND_DELETE_FLAG: RevisionKind
REVISION_KIND_DISABLE_FLAG: RevisionKind
REVISION_KIND_ENABLE_FLAG: RevisionKind
REVISION_KIND_ROLLBACK: RevisionKind
REVISION_KIND_ROLLOUT_STEP: RevisionKind
REVISION_KIND_SOURCE_FILE: RevisionKind
CHANGE_TYPE_UNSPECIFIED: ChangeType
CHANGE_TYPE_WRITE: ChangeType
CHANGE_TYPE_UPDATE: ChangeType
CHANGE_TYPE_DELETE: ChangeType
ROLLOUT_STATE_UNSPECIFIED: RolloutState
ROLLOUT_STATE_RUNNING: RolloutState
ROLLOUT_STATE_PAUSED: RolloutState
ROLLOUT_STATE_COMPLETED: RolloutState
ROLLOUT_STATE_CANCELLED: RolloutState
ROLLOUT_STATE_FAILED: RolloutState

class Flag(_message.Message):
    __slots__ = ("key", "state", "variants", "default_variant", "targeting", "metadata")
    class VariantsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VARIANT_FIELD_NUMBER: _ClassVar[int]
    TARGETING_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    key: str
    state: FlagState
    variants: _containers.MessageMap[str, _struct_pb2.Value]
    default_variant: str
    targeting: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    def __init__(self, key: _Optional[str] = ..., state: _Optional[_Union[FlagState, str]] = ..., variants: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., default_variant: _Optional[str] = ..., targeting: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class FlagSet(_message.Message):
    __slots__ = ("flag_set_id", "flags", "evaluators", "metadata", "revision", "create_time", "update_time")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    EVALUATORS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    evaluators: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    revision: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, flag_set_id: _Optional[str] = ..., flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., evaluators: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., revision: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FlagSetSummary(_message.Message):
    __slots__ = ("flag_set_id", "flag_count", "revision", "update_time")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_COUNT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_count: int
    revision: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_count: _Optional[int] = ..., revision: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FlagChange(_message.Message):
    __slots__ = ("flag_key", "type")
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    flag_key: str
    type: ChangeType
    def __init__(self, flag_key: _Optional[str] = ..., type: _Optional[_Union[ChangeType, str]] = ...) -> None: ...

class Revision(_message.Message):
    __slots__ = ("revision", "flag_set_id", "kind", "author", "message", "create_time", "changes")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    revision: int
    flag_set_id: str
    kind: RevisionKind
    author: str
    message: str
    create_time: _timestamp_pb2.Timestamp
    changes: _containers.RepeatedCompositeFieldContainer[FlagChange]
    def __init__(self, revision: _Optional[int] = ..., flag_set_id: _Optional[str] = ..., kind: _Optional[_Union[RevisionKind, str]] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[FlagChange, _Mapping]]] = ...) -> None: ...

class ListFlagSetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFlagSetsResponse(_message.Message):
    __slots__ = ("flag_sets",)
    FLAG_SETS_FIELD_NUMBER: _ClassVar[int]
    flag_sets: _containers.RepeatedCompositeFieldContainer[FlagSetSummary]
    def __init__(self, flag_sets: _Optional[_Iterable[_Union[FlagSetSummary, _Mapping]]] = ...) -> None: ...

class GetFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id",)
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    def __init__(self, flag_set_id: _Optional[str] = ...) -> None: ...

class GetFlagSetResponse(_message.Message):
    __slots__ = ("flag_set",)
    FLAG_SET_FIELD_NUMBER: _ClassVar[int]
    flag_set: FlagSet
    def __init__(self, flag_set: _Optional[_Union[FlagSet, _Mapping]] = ...) -> None: ...

class CreateFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id", "evaluators", "metadata", "author", "message")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATORS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    evaluators: _struct_pb2.Struct
    metadata: _struct_pb2.Struct
    author: str
    message: str
    def __init__(self, flag_set_id: _Optional[str] = ..., evaluators: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., author: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CreateFlagSetResponse(_message.Message):
    __slots__ = ("flag_set", "revision")
    FLAG_SET_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set: FlagSet
    revision: Revision
    def __init__(self, flag_set: _Optional[_Union[FlagSet, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ...) -> None: ...

class DeleteFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id", "author", "message", "expected_revision")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    author: str
    message: str
    expected_revision: int
    def __init__(self, flag_set_id: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class DeleteFlagSetResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: Revision
    def __init__(self, revision: _Optional[_Union[Revision, _Mapping]] = ...) -> None: ...

class ListFlagsRequest(_message.Message):
    __slots__ = ("flag_set_id",)
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    def __init__(self, flag_set_id: _Optional[str] = ...) -> None: ...

class ListFlagsResponse(_message.Message):
    __slots__ = ("flags", "revision")
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    revision: int
    def __init__(self, flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class GetFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag_key")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_key: str
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ...) -> None: ...

class GetFlagResponse(_message.Message):
    __slots__ = ("flag", "revision")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    flag: Flag
    revision: int
    def __init__(self, flag: _Optional[_Union[Flag, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class CreateFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag", "author", "message", "expected_revision")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag: Flag
    author: str
    message: str
    expected_revision: int
    def __init__(self, flag_set_id: _Optional[str] = ..., flag: _Optional[_Union[Flag, _Mapping]] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class CreateFlagResponse(_message.Message):
    __slots__ = ("flag", "revision")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    flag: Flag
    revision: Revision
    def __init__(self, flag: _Optional[_Union[Flag, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ...) -> None: ...

class UpdateFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag", "author", "message", "expected_revision")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag: Flag
    author: str
    message: str
    expected_revision: int
    def __init__(self, flag_set_id: _Optional[str] = ..., flag: _Optional[_Union[Flag, _Mapping]] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class UpdateFlagResponse(_message.Message):
    __slots__ = ("flag", "revision", "changed")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    flag: Flag
    revision: Revision
    changed: bool
    def __init__(self, flag: _Optional[_Union[Flag, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class DeleteFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag_key", "author", "message", "expected_revision")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_key: str
    author: str
    message: str
    expected_revision: int
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class DeleteFlagResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: Revision
    def __init__(self, revision: _Optional[_Union[Revision, _Mapping]] = ...) -> None: ...

class DisableFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag_key", "author", "message")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_key: str
    author: str
    message: str
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DisableFlagResponse(_message.Message):
    __slots__ = ("flag", "revision", "changed")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    flag: Flag
    revision: Revision
    changed: bool
    def __init__(self, flag: _Optional[_Union[Flag, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class EnableFlagRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag_key", "author", "message")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_key: str
    author: str
    message: str
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class EnableFlagResponse(_message.Message):
    __slots__ = ("flag", "revision", "changed")
    FLAG_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    flag: Flag
    revision: Revision
    changed: bool
    def __init__(self, flag: _Optional[_Union[Flag, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ValidateFlagSetRequest(_message.Message):
    __slots__ = ("flagd_json",)
    FLAGD_JSON_FIELD_NUMBER: _ClassVar[int]
    flagd_json: str
    def __init__(self, flagd_json: _Optional[str] = ...) -> None: ...

class ValidateFlagSetResponse(_message.Message):
    __slots__ = ("valid", "violations")
    VALID_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    def __init__(self, valid: _Optional[bool] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ...) -> None: ...

class ImportFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id", "flagd_json", "author", "message", "expected_revision")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAGD_JSON_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flagd_json: str
    author: str
    message: str
    expected_revision: int
    def __init__(self, flag_set_id: _Optional[str] = ..., flagd_json: _Optional[str] = ..., author: _Optional[str] = ..., message: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class ImportFlagSetResponse(_message.Message):
    __slots__ = ("flag_set", "revision", "changed")
    FLAG_SET_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    flag_set: FlagSet
    revision: Revision
    changed: bool
    def __init__(self, flag_set: _Optional[_Union[FlagSet, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class ExportFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id",)
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    def __init__(self, flag_set_id: _Optional[str] = ...) -> None: ...

class ExportFlagSetResponse(_message.Message):
    __slots__ = ("flagd_json", "revision")
    FLAGD_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    flagd_json: str
    revision: int
    def __init__(self, flagd_json: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class ListRevisionsRequest(_message.Message):
    __slots__ = ("flag_set_id", "page_size", "page_token")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    page_size: int
    page_token: str
    def __init__(self, flag_set_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRevisionsResponse(_message.Message):
    __slots__ = ("revisions", "next_page_token")
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[Revision]
    next_page_token: str
    def __init__(self, revisions: _Optional[_Iterable[_Union[Revision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRevisionRequest(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class GetRevisionResponse(_message.Message):
    __slots__ = ("revision", "flagd_json")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FLAGD_JSON_FIELD_NUMBER: _ClassVar[int]
    revision: Revision
    flagd_json: str
    def __init__(self, revision: _Optional[_Union[Revision, _Mapping]] = ..., flagd_json: _Optional[str] = ...) -> None: ...

class RollbackFlagSetRequest(_message.Message):
    __slots__ = ("flag_set_id", "revision", "author", "message")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    revision: int
    author: str
    message: str
    def __init__(self, flag_set_id: _Optional[str] = ..., revision: _Optional[int] = ..., author: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RollbackFlagSetResponse(_message.Message):
    __slots__ = ("flag_set", "revision", "changed")
    FLAG_SET_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    flag_set: FlagSet
    revision: Revision
    changed: bool
    def __init__(self, flag_set: _Optional[_Union[FlagSet, _Mapping]] = ..., revision: _Optional[_Union[Revision, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class RolloutStep(_message.Message):
    __slots__ = ("weights", "wait")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    weights: _containers.ScalarMap[str, int]
    wait: _duration_pb2.Duration
    def __init__(self, weights: _Optional[_Mapping[str, int]] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("rollout_id", "flag_set_id", "flag_key", "steps", "state", "applied_steps", "next_step_time", "remaining_wait", "author", "create_time", "update_time", "revisions", "failure")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_STEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_TIME_FIELD_NUMBER: _ClassVar[int]
    REMAINING_WAIT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    flag_set_id: str
    flag_key: str
    steps: _containers.RepeatedCompositeFieldContainer[RolloutStep]
    state: RolloutState
    applied_steps: int
    next_step_time: _timestamp_pb2.Timestamp
    remaining_wait: _duration_pb2.Duration
    author: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    revisions: _containers.RepeatedScalarFieldContainer[int]
    failure: str
    def __init__(self, rollout_id: _Optional[str] = ..., flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[RolloutStep, _Mapping]]] = ..., state: _Optional[_Union[RolloutState, str]] = ..., applied_steps: _Optional[int] = ..., next_step_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., remaining_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., author: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revisions: _Optional[_Iterable[int]] = ..., failure: _Optional[str] = ...) -> None: ...

class StartRolloutRequest(_message.Message):
    __slots__ = ("flag_set_id", "flag_key", "steps", "author", "message")
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    flag_key: str
    steps: _containers.RepeatedCompositeFieldContainer[RolloutStep]
    author: str
    message: str
    def __init__(self, flag_set_id: _Optional[str] = ..., flag_key: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[RolloutStep, _Mapping]]] = ..., author: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StartRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class GetRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class GetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ListRolloutsRequest(_message.Message):
    __slots__ = ("flag_set_id",)
    FLAG_SET_ID_FIELD_NUMBER: _ClassVar[int]
    flag_set_id: str
    def __init__(self, flag_set_id: _Optional[str] = ...) -> None: ...

class ListRolloutsResponse(_message.Message):
    __slots__ = ("rollouts",)
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    rollouts: _containers.RepeatedCompositeFieldContainer[Rollout]
    def __init__(self, rollouts: _Optional[_Iterable[_Union[Rollout, _Mapping]]] = ...) -> None: ...

class PauseRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "author")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    author: str
    def __init__(self, rollout_id: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class PauseRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ResumeRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "author")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    author: str
    def __init__(self, rollout_id: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class ResumeRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class CancelRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "author")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    author: str
    def __init__(self, rollout_id: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class CancelRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class Exposure(_message.Message):
    __slots__ = ("flag_key", "variant", "count")
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    flag_key: str
    variant: str
    count: int
    def __init__(self, flag_key: _Optional[str] = ..., variant: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class RecordExposuresRequest(_message.Message):
    __slots__ = ("exposures",)
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    exposures: _containers.RepeatedCompositeFieldContainer[Exposure]
    def __init__(self, exposures: _Optional[_Iterable[_Union[Exposure, _Mapping]]] = ...) -> None: ...

class RecordExposuresResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetExposuresRequest(_message.Message):
    __slots__ = ("flag_key", "start_time")
    FLAG_KEY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    flag_key: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, flag_key: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetExposuresResponse(_message.Message):
    __slots__ = ("exposures",)
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    exposures: _containers.RepeatedCompositeFieldContainer[Exposure]
    def __init__(self, exposures: _Optional[_Iterable[_Union[Exposure, _Mapping]]] = ...) -> None: ...
