import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BudgetPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_PERIOD_UNSPECIFIED: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_DAILY: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_WEEKLY: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_MONTHLY: _ClassVar[BudgetPeriod]

class SpendDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEND_DIMENSION_UNSPECIFIED: _ClassVar[SpendDimension]
    SPEND_DIMENSION_TENANT: _ClassVar[SpendDimension]
    SPEND_DIMENSION_SUBJECT: _ClassVar[SpendDimension]
    SPEND_DIMENSION_MODEL: _ClassVar[SpendDimension]
    SPEND_DIMENSION_ENDPOINT: _ClassVar[SpendDimension]
    SPEND_DIMENSION_PROMPT_VERSION: _ClassVar[SpendDimension]
    SPEND_DIMENSION_FLAG_VARIANT: _ClassVar[SpendDimension]
    SPEND_DIMENSION_DAY: _ClassVar[SpendDimension]
BUDGET_PERIOD_UNSPECIFIED: BudgetPeriod
BUDGET_PERIOD_DAILY: BudgetPeriod
BUDGET_PERIOD_WEEKLY: BudgetPeriod
BUDGET_PERIOD_MONTHLY: BudgetPeriod
SPEND_DIMENSION_UNSPECIFIED: SpendDimension
SPEND_DIMENSION_TENANT: SpendDimension
SPEND_DIMENSION_SUBJECT: SpendDimension
SPEND_DIMENSION_MODEL: SpendDimension
SPEND_DIMENSION_ENDPOINT: SpendDimension
SPEND_DIMENSION_PROMPT_VERSION: SpendDimension
SPEND_DIMENSION_FLAG_VARIANT: SpendDimension
SPEND_DIMENSION_DAY: SpendDimension

class Money(_message.Message):
    __slots__ = ("currency_code", "nanos")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    nanos: int
    def __init__(self, currency_code: _Optional[str] = ..., nanos: _Optional[int] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("request_id", "occurred_at", "tenant", "subject", "endpoint", "model", "deployment", "provider", "upstream_model", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens", "latency", "outcome", "cache_hit", "prompt_name", "prompt_version", "flag_variants", "user", "api_key_id")
    class FlagVariantsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    FLAG_VARIANTS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    occurred_at: _timestamp_pb2.Timestamp
    tenant: str
    subject: str
    endpoint: str
    model: str
    deployment: str
    provider: str
    upstream_model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    latency: _duration_pb2.Duration
    outcome: str
    cache_hit: bool
    prompt_name: str
    prompt_version: int
    flag_variants: _containers.ScalarMap[str, str]
    user: str
    api_key_id: str
    def __init__(self, request_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tenant: _Optional[str] = ..., subject: _Optional[str] = ..., endpoint: _Optional[str] = ..., model: _Optional[str] = ..., deployment: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., outcome: _Optional[str] = ..., cache_hit: _Optional[bool] = ..., prompt_name: _Optional[str] = ..., prompt_version: _Optional[int] = ..., flag_variants: _Optional[_Mapping[str, str]] = ..., user: _Optional[str] = ..., api_key_id: _Optional[str] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEvent, _Mapping]]] = ...) -> None: ...

class RecordResult(_message.Message):
    __slots__ = ("request_id", "recorded", "cost", "cost_unknown")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    COST_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    recorded: bool
    cost: Money
    cost_unknown: bool
    def __init__(self, request_id: _Optional[str] = ..., recorded: _Optional[bool] = ..., cost: _Optional[_Union[Money, _Mapping]] = ..., cost_unknown: _Optional[bool] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("provider", "model", "valid_from", "currency_code", "input_per_million", "output_per_million", "cached_input_per_million", "cache_write_per_million", "reasoning_per_million", "source")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    INPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    REASONING_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    valid_from: _timestamp_pb2.Timestamp
    currency_code: str
    input_per_million: int
    output_per_million: int
    cached_input_per_million: int
    cache_write_per_million: int
    reasoning_per_million: int
    source: str
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency_code: _Optional[str] = ..., input_per_million: _Optional[int] = ..., output_per_million: _Optional[int] = ..., cached_input_per_million: _Optional[int] = ..., cache_write_per_million: _Optional[int] = ..., reasoning_per_million: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class GetPriceRequest(_message.Message):
    __slots__ = ("provider", "model", "at")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPriceResponse(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: Price
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ...) -> None: ...

class ListPricesRequest(_message.Message):
    __slots__ = ("provider", "model")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class ListPricesResponse(_message.Message):
    __slots__ = ("prices",)
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    def __init__(self, prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ...) -> None: ...

class SetPriceRequest(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: Price
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ...) -> None: ...

class SetPriceResponse(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: Price
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("budget_id", "scope", "model", "period", "time_zone", "limit", "hard", "thresholds", "created", "owner")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    scope: str
    model: str
    period: BudgetPeriod
    time_zone: str
    limit: Money
    hard: bool
    thresholds: _containers.RepeatedScalarFieldContainer[int]
    created: _timestamp_pb2.Timestamp
    owner: str
    def __init__(self, budget_id: _Optional[str] = ..., scope: _Optional[str] = ..., model: _Optional[str] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., time_zone: _Optional[str] = ..., limit: _Optional[_Union[Money, _Mapping]] = ..., hard: _Optional[bool] = ..., thresholds: _Optional[_Iterable[int]] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ...) -> None: ...

class BudgetStatus(_message.Message):
    __slots__ = ("budget", "period_start", "period_end", "spent", "reserved")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    spent: Money
    reserved: Money
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., spent: _Optional[_Union[Money, _Mapping]] = ..., reserved: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class CreateBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class CreateBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("budget_id",)
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    def __init__(self, budget_id: _Optional[str] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: BudgetStatus
    def __init__(self, status: _Optional[_Union[BudgetStatus, _Mapping]] = ...) -> None: ...

class ListBudgetsRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class ListBudgetsResponse(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ...) -> None: ...

class DeleteBudgetRequest(_message.Message):
    __slots__ = ("budget_id",)
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    def __init__(self, budget_id: _Optional[str] = ...) -> None: ...

class DeleteBudgetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckBudgetRequest(_message.Message):
    __slots__ = ("request_id", "tenant", "user", "key", "model", "provider", "upstream_model", "input_tokens", "max_output_tokens")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    tenant: str
    user: str
    key: str
    model: str
    provider: str
    upstream_model: str
    input_tokens: int
    max_output_tokens: int
    def __init__(self, request_id: _Optional[str] = ..., tenant: _Optional[str] = ..., user: _Optional[str] = ..., key: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., max_output_tokens: _Optional[int] = ...) -> None: ...

class CheckBudgetResponse(_message.Message):
    __slots__ = ("allowed", "reserved", "exceeded", "reservation_ttl")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_TTL_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    reserved: Money
    exceeded: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    reservation_ttl: _duration_pb2.Duration
    def __init__(self, allowed: _Optional[bool] = ..., reserved: _Optional[_Union[Money, _Mapping]] = ..., exceeded: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ..., reservation_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReleaseBudgetReservationRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class ReleaseBudgetReservationResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("alert_id", "budget_id", "scope", "threshold", "period_start", "spent", "limit", "raised")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    RAISED_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    budget_id: str
    scope: str
    threshold: int
    period_start: _timestamp_pb2.Timestamp
    spent: Money
    limit: Money
    raised: _timestamp_pb2.Timestamp
    def __init__(self, alert_id: _Optional[str] = ..., budget_id: _Optional[str] = ..., scope: _Optional[str] = ..., threshold: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., spent: _Optional[_Union[Money, _Mapping]] = ..., limit: _Optional[_Union[Money, _Mapping]] = ..., raised: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("budget_id", "page_size")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    page_size: int
    def __init__(self, budget_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class GetSpendRequest(_message.Message):
    __slots__ = ("start", "end", "group_by", "tenant", "subject", "model")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    group_by: _containers.RepeatedScalarFieldContainer[SpendDimension]
    tenant: str
    subject: str
    model: str
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Iterable[_Union[SpendDimension, str]]] = ..., tenant: _Optional[str] = ..., subject: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class SpendRow(_message.Message):
    __slots__ = ("group", "cost", "input_tokens", "output_tokens", "requests", "unpriced_requests", "cached_tokens", "latency_ms_total", "mean_latency_ms")
    class GroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    UNPRICED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MEAN_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    group: _containers.ScalarMap[str, str]
    cost: Money
    input_tokens: int
    output_tokens: int
    requests: int
    unpriced_requests: int
    cached_tokens: int
    latency_ms_total: int
    mean_latency_ms: float
    def __init__(self, group: _Optional[_Mapping[str, str]] = ..., cost: _Optional[_Union[Money, _Mapping]] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., requests: _Optional[int] = ..., unpriced_requests: _Optional[int] = ..., cached_tokens: _Optional[int] = ..., latency_ms_total: _Optional[int] = ..., mean_latency_ms: _Optional[float] = ...) -> None: ...

class GetSpendResponse(_message.Message):
    __slots__ = ("rows", "total", "totals")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpendRow]
    total: Money
    totals: _containers.RepeatedCompositeFieldContainer[Money]
    def __init__(self, rows: _Optional[_Iterable[_Union[SpendRow, _Mapping]]] = ..., total: _Optional[_Union[Money, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[Money, _Mapping]]] = ...) -> None: ...

class ExportSpendRequest(_message.Message):
    __slots__ = ("query", "format")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    query: GetSpendRequest
    format: str
    def __init__(self, query: _Optional[_Union[GetSpendRequest, _Mapping]] = ..., format: _Optional[str] = ...) -> None: ...

class RebuildAggregatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RebuildAggregatesResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: int
    def __init__(self, events: _Optional[int] = ...) -> None: ...
