"""Build an RPC's request message from a REST request: path variables, query string, JSON body.

Everything is assembled into one dict in protobuf's JSON shape and parsed once with
`json_format.ParseDict`, so the REST side accepts exactly what the proto3 JSON mapping accepts
(int64 as strings or numbers, enums by name or number, RFC 3339 timestamps, "1.5s" durations,
proto or lowerCamelCase field names) and nothing else: unknown fields are errors.

Decisions:
- Query parameters name a leaf field by a dotted path (`query.start`, `groupBy`); a repeated
  field takes the parameter once per value. Only scalars, enums and the well-known types that
  are a string in JSON (Timestamp, Duration, FieldMask, wrappers) can be set from the query.
- With body "*" every field not bound by the path comes from the body, so a query parameter is
  refused rather than silently ignored. A route without a body refuses a non-empty one.
- A path variable wins over the same field in the body; naming it again in the query is refused.
- Every bad parameter is reported at once, each as a field violation naming the parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from gateway.transcoding.http_rules import Route, resolve_field_path
from svckit.errors import FieldViolation

_STRING_WELL_KNOWN = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Int32Value",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.FloatValue",
        "google.protobuf.DoubleValue",
        "google.protobuf.BoolValue",
    }
)
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_BODY = "body"


class RequestMappingError(Exception):
    """The REST request cannot become the RPC's request: one violation per bad field."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))

    @property
    def message(self) -> str:
        return str(self)


def message_class(descriptor: Descriptor) -> type[Message]:
    """The generated (or dynamically built) class of a message descriptor."""
    return message_factory.GetMessageClass(descriptor)


def build_request(
    route: Route,
    path_params: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    body: bytes,
) -> Message:
    """The request message of `route`; raises RequestMappingError listing every bad field."""
    descriptor: Descriptor = route.method.input_type
    violations: list[FieldViolation] = []
    data = _body_data(route, body, violations)
    for name, values in _grouped(descriptor, query).values():
        _apply_query(route, descriptor, name, values, data, violations)
    for name, value in path_params.items():
        fields = resolve_field_path(descriptor, name)
        if _valid(descriptor, fields, value, name, violations):
            _assign(data, fields, value)
    if violations:
        raise RequestMappingError(violations)
    try:
        return json_format.ParseDict(data, message_class(descriptor)())
    except json_format.ParseError as error:
        field = _BODY if route.body in (None, "*") else str(route.body)
        raise RequestMappingError([FieldViolation(field, _text(error))]) from None


def _grouped(
    descriptor: Descriptor, query: Sequence[tuple[str, str]]
) -> dict[str, tuple[str, list[str]]]:
    """Values by field (`group_by` and `groupBy` are one field), with the name first used."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for name, value in query:
        try:
            key = ".".join(f.name for f in resolve_field_path(descriptor, name, json_names=True))
        except KeyError:
            key = name
        grouped.setdefault(key, (name, []))[1].append(value)
    return grouped


def _body_data(route: Route, body: bytes, violations: list[FieldViolation]) -> dict[str, Any]:
    if route.body is None:
        if body.strip() not in (b"", b"{}"):
            violations.append(FieldViolation(_BODY, "this route takes no request body"))
        return {}
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as error:
        violations.append(FieldViolation(_BODY, f"not valid JSON: {_text(error)}"))
        return {}
    if route.body != "*":
        return {route.body: value}
    if not isinstance(value, dict):
        violations.append(FieldViolation(_BODY, "must be a JSON object"))
        return {}
    return value


def _apply_query(
    route: Route,
    descriptor: Descriptor,
    name: str,
    values: list[str],
    data: dict[str, Any],
    violations: list[FieldViolation],
) -> None:
    problem, fields = _query_field(route, descriptor, name)
    if problem is None and not fields[-1].is_repeated and len(values) > 1:
        problem = "given more than once for a field that is not repeated"
    if problem is not None:
        violations.append(FieldViolation(name, problem))
        return
    converted = [_query_value(fields[-1], v) for v in values]
    if None in converted:
        violations.append(FieldViolation(name, "expected true or false"))
        return
    value: Any = converted if fields[-1].is_repeated else converted[0]
    if _valid(descriptor, fields, value, name, violations):
        _assign(data, fields, value)


def _query_field(
    route: Route, descriptor: Descriptor, name: str
) -> tuple[str | None, tuple[FieldDescriptor, ...]]:
    if route.body == "*":
        return "unknown query parameter: this route reads its fields from the JSON body", ()
    try:
        fields = resolve_field_path(descriptor, name, json_names=True)
    except KeyError:
        return "unknown query parameter", ()
    canonical = ".".join(f.name for f in fields)
    if canonical in route.path_fields:
        return "already bound by the URL path", fields
    if route.body is not None and (canonical + ".").startswith(route.body + "."):
        return "belongs to the JSON body", fields
    if not _query_settable(fields[-1]):
        return "cannot be set from the query string; set its fields with dotted names", fields
    return None, fields


def _query_settable(field: FieldDescriptor) -> bool:
    if field.message_type is None:
        return True
    return str(field.message_type.full_name) in _STRING_WELL_KNOWN and not _is_map(field)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _query_value(field: FieldDescriptor, raw: str) -> Any:
    """The JSON form ParseDict expects for a query value; None for a bad boolean."""
    wrapped = field.message_type
    is_bool = field.type == FieldDescriptor.TYPE_BOOL or (
        wrapped is not None and wrapped.full_name == "google.protobuf.BoolValue"
    )
    if is_bool:
        return _BOOLS.get(raw.lower())
    if field.type == FieldDescriptor.TYPE_ENUM and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def _valid(
    descriptor: Descriptor,
    fields: tuple[FieldDescriptor, ...],
    value: Any,
    name: str,
    violations: list[FieldViolation],
) -> bool:
    """Parse the one value alone, so that an error names the parameter that caused it."""
    probe: dict[str, Any] = {}
    _assign(probe, fields, value)
    try:
        json_format.ParseDict(probe, message_class(descriptor)())
    except json_format.ParseError as error:
        violations.append(FieldViolation(name, _text(error)))
        return False
    return True


def _assign(data: dict[str, Any], fields: tuple[FieldDescriptor, ...], value: Any) -> None:
    """Set `value` at the field path, replacing the field under either of its JSON names."""
    for field in fields[:-1]:
        key = next((k for k in (field.name, field.json_name) if k in data), field.name)
        child = data.get(key, {})
        if not isinstance(child, dict):
            return  # The body gave this field a non-object: ParseDict reports it.
        data.pop(field.json_name, None)
        data[field.name] = child
        data = child
    last = fields[-1]
    data.pop(last.json_name, None)
    data[last.name] = value


def _text(error: Exception) -> str:
    return " ".join(str(error).split())


__all__ = ["RequestMappingError", "build_request", "message_class"]
