import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LimitKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIMIT_KIND_UNSPECIFIED: _ClassVar[LimitKind]
    LIMIT_KIND_REQUESTS_PER_DAY: _ClassVar[LimitKind]
    LIMIT_KIND_REQUESTS_PER_MINUTE: _ClassVar[LimitKind]
    LIMIT_KIND_TOKENS_PER_MINUTE: _ClassVar[LimitKind]
LIMIT_KIND_UNSPECIFIED: LimitKind
LIMIT_KIND_REQUESTS_PER_DAY: LimitKind
LIMIT_KIND_REQUESTS_PER_MINUTE: LimitKind
LIMIT_KIND_TOKENS_PER_MINUTE: LimitKind

class QuotaSubject(_message.Message):
    __slots__ = ("name", "tier")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    name: str
    tier: str
    def __init__(self, name: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...

class CheckQuotaRequest(_message.Message):
    __slots__ = ("subjects", "model", "estimated_tokens")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[QuotaSubject]
    model: str
    estimated_tokens: int
    def __init__(self, subjects: _Optional[_Iterable[_Union[QuotaSubject, _Mapping]]] = ..., model: _Optional[str] = ..., estimated_tokens: _Optional[int] = ...) -> None: ...

class LimitStatus(_message.Message):
    __slots__ = ("subject", "kind", "model", "limit", "remaining", "reset_time", "exceeded", "overridden")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_TIME_FIELD_NUMBER: _ClassVar[int]
    EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    subject: str
    kind: LimitKind
    model: str
    limit: int
    remaining: int
    reset_time: _timestamp_pb2.Timestamp
    exceeded: bool
    overridden: bool
    def __init__(self, subject: _Optional[str] = ..., kind: _Optional[_Union[LimitKind, str]] = ..., model: _Optional[str] = ..., limit: _Optional[int] = ..., remaining: _Optional[int] = ..., reset_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exceeded: _Optional[bool] = ..., overridden: _Optional[bool] = ...) -> None: ...

class CheckQuotaResponse(_message.Message):
    __slots__ = ("allowed", "limits", "retry_after", "reservation_id", "reservation_expire_time", "backend_unavailable")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    limits: _containers.RepeatedCompositeFieldContainer[LimitStatus]
    retry_after: _duration_pb2.Duration
    reservation_id: str
    reservation_expire_time: _timestamp_pb2.Timestamp
    backend_unavailable: bool
    def __init__(self, allowed: _Optional[bool] = ..., limits: _Optional[_Iterable[_Union[LimitStatus, _Mapping]]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reservation_id: _Optional[str] = ..., reservation_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., backend_unavailable: _Optional[bool] = ...) -> None: ...

class CommitReservationRequest(_message.Message):
    __slots__ = ("reservation_id", "actual_tokens")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    actual_tokens: int
    def __init__(self, reservation_id: _Optional[str] = ..., actual_tokens: _Optional[int] = ...) -> None: ...

class CommitReservationResponse(_message.Message):
    __slots__ = ("reserved_tokens", "actual_tokens")
    RESERVED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    reserved_tokens: int
    actual_tokens: int
    def __init__(self, reserved_tokens: _Optional[int] = ..., actual_tokens: _Optional[int] = ...) -> None: ...

class ReleaseReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class ReleaseReservationResponse(_message.Message):
    __slots__ = ("released_tokens",)
    RELEASED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    released_tokens: int
    def __init__(self, released_tokens: _Optional[int] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("subject", "tier", "model")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    subject: str
    tier: str
    model: str
    def __init__(self, subject: _Optional[str] = ..., tier: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("limits",)
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: _containers.RepeatedCompositeFieldContainer[LimitStatus]
    def __init__(self, limits: _Optional[_Iterable[_Union[LimitStatus, _Mapping]]] = ...) -> None: ...

class ResetUsageRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class ResetUsageResponse(_message.Message):
    __slots__ = ("deleted_counters",)
    DELETED_COUNTERS_FIELD_NUMBER: _ClassVar[int]
    deleted_counters: int
    def __init__(self, deleted_counters: _Optional[int] = ...) -> None: ...

class QuotaOverride(_message.Message):
    __slots__ = ("subject", "requests_per_day", "requests_per_minute", "tokens_per_minute", "reason", "expire_time")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    subject: str
    requests_per_day: int
    requests_per_minute: int
    tokens_per_minute: int
    reason: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[str] = ..., requests_per_day: _Optional[int] = ..., requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ..., reason: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetOverrideRequest(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: QuotaOverride
    def __init__(self, override: _Optional[_Union[QuotaOverride, _Mapping]] = ...) -> None: ...

class SetOverrideResponse(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: QuotaOverride
    def __init__(self, override: _Optional[_Union[QuotaOverride, _Mapping]] = ...) -> None: ...

class GetOverrideRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class GetOverrideResponse(_message.Message):
    __slots__ = ("override",)
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    override: QuotaOverride
    def __init__(self, override: _Optional[_Union[QuotaOverride, _Mapping]] = ...) -> None: ...

class DeleteOverrideRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class DeleteOverrideResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelLimits(_message.Message):
    __slots__ = ("model", "requests_per_day", "requests_per_minute", "tokens_per_minute")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    model: str
    requests_per_day: int
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, model: _Optional[str] = ..., requests_per_day: _Optional[int] = ..., requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class Tier(_message.Message):
    __slots__ = ("name", "requests_per_day", "requests_per_minute", "tokens_per_minute", "models")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    requests_per_day: int
    requests_per_minute: int
    tokens_per_minute: int
    models: _containers.RepeatedCompositeFieldContainer[ModelLimits]
    def __init__(self, name: _Optional[str] = ..., requests_per_day: _Optional[int] = ..., requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ..., models: _Optional[_Iterable[_Union[ModelLimits, _Mapping]]] = ...) -> None: ...

class ListTiersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTiersResponse(_message.Message):
    __slots__ = ("tiers",)
    TIERS_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[Tier]
    def __init__(self, tiers: _Optional[_Iterable[_Union[Tier, _Mapping]]] = ...) -> None: ...
