"""The OpenAPI 3.1 document of the transcoded admin routes, built from the same descriptors.

Each route becomes an operation: its path parameters come from the template, its query
parameters from the request's remaining leaf fields, its request body from the rule's `body`
and its response from the output message (or `response_body`). Schemas follow the proto3 JSON
mapping the proxy speaks: lowerCamelCase properties, 64-bit integers as strings, enums by name,
Timestamps as date-time strings, Durations as "1.5s", maps as `additionalProperties`, and the
well-known types by their JSON forms. Every message and enum is a component named by its full
name, so recursive messages are plain `$ref`s. Tags are services, operationIds
`<Service>_<Method>`.

Comments: the generated modules in gen/python are compiled without `source_code_info`, so the
descriptors loaded at run time carry no .proto comments. Summaries and descriptions come from a
`Comments` built from a FileDescriptorSet compiled with `--include_source_info` when the
gateway is given one (or from the descriptors, should they ever keep their source info);
without it operations are summarised by their method names.

Routes of custom HTTP methods (`custom: {kind: "SEARCH"}`) are served but left out of the
document: OpenAPI 3.1 cannot describe a method outside its fixed eight.

The hand-written OpenAI routes join through `merge`, which refuses to overwrite an operation.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from gateway.transcoding.http_rules import Route, RouteTable, Variable, resolve_field_path
from gateway.transcoding.proto_comments import Comments

Schema = dict[str, Any]
Document = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
ERROR_SCHEMA = "switchboard.gateway.AdminError"
_REF = "#/components/schemas/"
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
_UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}
_T = FieldDescriptor
_SCALARS: dict[int, Schema] = {
    _T.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _T.TYPE_FLOAT: {"type": "number", "format": "float"},
    _T.TYPE_INT32: _INT32,
    _T.TYPE_SINT32: _INT32,
    _T.TYPE_SFIXED32: _INT32,
    _T.TYPE_UINT32: _UINT32,
    _T.TYPE_FIXED32: _UINT32,
    _T.TYPE_INT64: _INT64,
    _T.TYPE_SINT64: _INT64,
    _T.TYPE_SFIXED64: _INT64,
    _T.TYPE_UINT64: _UINT64,
    _T.TYPE_FIXED64: _UINT64,
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}
_WRAPPERS = {
    "DoubleValue": _T.TYPE_DOUBLE,
    "FloatValue": _T.TYPE_FLOAT,
    "Int64Value": _T.TYPE_INT64,
    "UInt64Value": _T.TYPE_UINT64,
    "Int32Value": _T.TYPE_INT32,
    "UInt32Value": _T.TYPE_UINT32,
    "BoolValue": _T.TYPE_BOOL,
    "StringValue": _T.TYPE_STRING,
    "BytesValue": _T.TYPE_BYTES,
}
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
        "description": "A duration in seconds with an 's' suffix, e.g. \"1.5s\".",
    },
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated paths."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    **{f"google.protobuf.{name}": _SCALARS[kind] for name, kind in _WRAPPERS.items()},
}
_QUERY_WELL_KNOWN = frozenset(
    name for name, s in _WELL_KNOWN.items() if s.get("type") in ("string", "number", "boolean")
)
_HTTP_BODY = "google.api.HttpBody"
_MAX_QUERY_DEPTH = 4
_OPENAPI_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class _Schemas:
    """Builds components/schemas on demand; a component is registered before its fields are
    built, so recursive messages end in a `$ref` to themselves."""

    def __init__(self, comments: Comments) -> None:
        self.comments = comments
        self.components: dict[str, Schema] = {}

    def message(self, descriptor: Descriptor) -> Schema:
        name = str(descriptor.full_name)
        if name in _WELL_KNOWN:
            return copy.deepcopy(_WELL_KNOWN[name])
        if name not in self.components:
            self.components[name] = {}
            self.components[name].update(self._message_component(descriptor))
        return {"$ref": _REF + name}

    def enum(self, descriptor: EnumDescriptor) -> Schema:
        name = str(descriptor.full_name)
        if name == "google.protobuf.NullValue":
            return {"type": "null"}
        if name not in self.components:
            self.components[name] = _described(
                {"type": "string", "enum": [v.name for v in descriptor.values]},
                self.comments.get(name),
            )
        return {"$ref": _REF + name}

    def field(self, field: FieldDescriptor) -> Schema:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value = entry.fields_by_name["value"]
            schema: Schema = {"type": "object", "additionalProperties": self.single(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.single(field)}
        else:
            schema = self.single(field)
        return _described(schema, self.comments.get(str(field.full_name)))

    def single(self, field: FieldDescriptor) -> Schema:
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        return dict(_SCALARS[field.type])

    def _message_component(self, descriptor: Descriptor) -> Schema:
        properties = {f.json_name: self.field(f) for f in descriptor.fields}
        schema: Schema = {"type": "object", "properties": properties}
        exclusive = [[f.json_name for f in oneof.fields] for oneof in _real_oneofs(descriptor)]
        if exclusive:
            pairs = [
                {"required": [a, b]}
                for names in exclusive
                for i, a in enumerate(names)
                for b in names[i + 1 :]
            ]
            schema["not"] = {"anyOf": pairs}
            notes = "; ".join(", ".join(names) for names in exclusive)
            schema["x-oneofs"] = exclusive
            described = self.comments.get(str(descriptor.full_name))
            return _described(schema, _join(described, f"At most one of: {notes}."))
        return _described(schema, self.comments.get(str(descriptor.full_name)))


def _described(schema: Schema, description: str) -> Schema:
    if description:
        schema["description"] = description
    return schema


def _join(*texts: str) -> str:
    return "\n\n".join(t for t in texts if t)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _real_oneofs(descriptor: Descriptor) -> list[Any]:
    """The message's oneofs, without the synthetic ones of proto3 `optional` fields."""
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    synthetic = {f.oneof_index for f in proto.field if f.proto3_optional}
    return [o for i, o in enumerate(descriptor.oneofs) if i not in synthetic]


def openapi_path(route: Route) -> str:
    """The route's path in OpenAPI's templating: `{field}` for each variable, then `:verb`."""
    parts = [
        f"{{{s.field_path}}}" if isinstance(s, Variable) else s for s in route.template.segments
    ]
    verb = f":{route.template.verb}" if route.template.verb else ""
    return "/" + "/".join(parts) + verb


def operation_id(route: Route) -> str:
    suffix = f"_{route.binding_index + 1}" if route.binding_index else ""
    return f"{route.method.containing_service.name}_{route.method.name}{suffix}"


class _Operations:
    def __init__(self, schemas: _Schemas) -> None:
        self.schemas = schemas

    def operation(self, route: Route) -> Schema:
        comment = self.schemas.comments.get(route.full_name)
        operation: Schema = {
            "operationId": operation_id(route),
            "tags": [route.service_name],
            "summary": _first_sentence(comment) or route.method.name,
        }
        if comment:
            operation["description"] = comment
        parameters = self._path_parameters(route) + self._query_parameters(route)
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = self._request_body(route)
        operation["responses"] = {"200": self._response(route), "default": _error_response()}
        return operation

    def _path_parameters(self, route: Route) -> list[Schema]:
        request = route.method.input_type
        parameters = []
        for variable in route.template.variables:
            leaf = resolve_field_path(request, variable.field_path)[-1]
            schema = self.schemas.single(leaf)
            if variable.segments != ("*",):
                schema["pattern"] = "^" + "/".join(map(_segment_pattern, variable.segments)) + "$"
            description = self.schemas.comments.get(str(leaf.full_name))
            parameter: Schema = {
                "name": variable.field_path,
                "in": "path",
                "required": True,
                "schema": schema,
            }
            if variable.multi_segment:
                slash = 'Its "/" may be sent as is or percent-encoded.'
                description = _join(description, slash)
                # The example shows a value's shape, and tells clients and test generators that a
                # "/" in this parameter is intended, not a misrouting.
                parameter["example"] = _example_of(variable.segments)
            parameters.append(_described(parameter, description))
        return parameters

    def _query_parameters(self, route: Route) -> list[Schema]:
        if route.body == "*":
            return []
        bound = set(route.path_fields) | ({route.body} if route.body else set())
        return [
            _described({"name": name, "in": "query", "schema": self.schemas.field(field)}, "")
            for name, field in _query_fields(route.method.input_type, bound, "", "", ())
        ]

    def _request_body(self, route: Route) -> Schema:
        request = route.method.input_type
        if route.body == "*":
            schema = self.schemas.message(request)
            top_bound = {p for p in route.path_fields if "." not in p}
            if top_bound:
                component = self.schemas.components[str(request.full_name)]
                skip = {request.fields_by_name[p].json_name for p in top_bound}
                properties = {
                    k: copy.deepcopy(v) for k, v in component["properties"].items() if k not in skip
                }
                schema = {"type": "object", "properties": properties}
        else:
            schema = self.schemas.field(request.fields_by_name[str(route.body)])
        return {"required": False, "content": {"application/json": {"schema": schema}}}

    def _response(self, route: Route) -> Schema:
        output = route.method.output_type
        field = output.fields_by_name[route.response_body] if route.response_body else None
        body_type = field.message_type if field is not None else output
        if body_type is not None and body_type.full_name == _HTTP_BODY:
            content = {"*/*": {"schema": {"description": "The body as the service made it."}}}
            return {"description": "The raw body, with its own content type.", "content": content}
        schema = self.schemas.field(field) if field is not None else self.schemas.message(output)
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _segment_pattern(segment: str) -> str:
    return {"*": "[^/]+", "**": ".+"}.get(segment, re.escape(segment))


def _example_of(segments: tuple[str, ...]) -> str:
    """A value matching `segments`: a letter per "*", two segments for "**", literals kept."""
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    parts = []
    for segment in segments:
        if segment == "*":
            parts.append(next(letters))
        elif segment == "**":
            parts.append(f"{next(letters)}/{next(letters)}")
        else:
            parts.append(segment)
    return "/".join(parts)


def _query_fields(
    message: Descriptor,
    bound: set[str],
    proto_prefix: str,
    json_prefix: str,
    seen: tuple[str, ...],
) -> Iterator[tuple[str, FieldDescriptor]]:
    """(parameter name, field) of every leaf the query string can set, lowerCamelCase dotted."""
    for field in message.fields:
        proto_name, json_name = proto_prefix + field.name, json_prefix + field.json_name
        if proto_name in bound or _is_map(field):
            continue
        nested = field.message_type
        if nested is None or nested.full_name in _QUERY_WELL_KNOWN:
            yield json_name, field
        elif (
            not field.is_repeated
            and nested.full_name not in _WELL_KNOWN
            and nested.full_name not in seen
            and len(seen) < _MAX_QUERY_DEPTH
        ):
            yield from _query_fields(
                nested, bound, proto_name + ".", json_name + ".", (*seen, str(nested.full_name))
            )


def _first_sentence(text: str) -> str:
    first = text.split("\n\n")[0].replace("\n", " ").strip()
    end = first.find(". ")
    return first[: end + 1] if end >= 0 else first


def _error_response() -> Schema:
    return {
        "description": "An error: google.rpc.Status in Google's JSON error shape.",
        "content": {"application/json": {"schema": {"$ref": _REF + ERROR_SCHEMA}}},
    }


def _error_schema() -> Schema:
    status = {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status."},
            "status": {"type": "string", "description": "The gRPC status code's name."},
            "message": {"type": "string"},
            "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
        },
        "required": ["code", "status", "message"],
    }
    return {"type": "object", "properties": {"error": status}, "required": ["error"]}


def build_document(
    routes: RouteTable | Iterable[Route],
    *,
    title: str = "Switchboard",
    version: str = "v1",
    description: str = "",
    comments: Comments | None = None,
) -> Document:
    """The OpenAPI 3.1 document of `routes` (the admin API)."""
    listed = routes.routes if isinstance(routes, RouteTable) else tuple(routes)
    schemas = _Schemas(comments or Comments.from_routes(listed))
    operations = _Operations(schemas)
    paths: dict[str, dict[str, Schema]] = {}
    for route in sorted(listed, key=lambda r: (r.service_name, r.method.index, r.binding_index)):
        method = route.http_method.lower()
        if method not in _OPENAPI_METHODS:
            continue  # A custom HTTP method: OpenAPI 3.1 has no way to describe it.
        path = paths.setdefault(openapi_path(route), {})
        if method in path:
            raise ValueError(f"{method.upper()} {openapi_path(route)} is documented twice")
        path[method] = operations.operation(route)
    schemas.components[ERROR_SCHEMA] = _error_schema()
    services = sorted({r.service_name for r in listed})
    tags = [_described({"name": name}, schemas.comments.get(name)) for name in services]
    info = _described({"title": title, "version": version}, description)
    return {
        "openapi": OPENAPI_VERSION,
        "info": info,
        "tags": tags,
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.components.items()))},
    }


def merge(
    document: Document,
    paths: Mapping[str, Mapping[str, Any]],
    *,
    schemas: Mapping[str, Any] | None = None,
    tags: Iterable[Mapping[str, Any]] = (),
) -> Document:
    """A copy of `document` with more paths (the OpenAI routes), schemas and tags.

    Raises ValueError when an operation (path and method) or a differing schema already exists.
    """
    merged = copy.deepcopy(document)
    for path, operations in paths.items():
        target = merged["paths"].setdefault(path, {})
        for method, operation in operations.items():
            if method in target:
                raise ValueError(f"{method.upper()} {path} is already in the document")
            target[method] = copy.deepcopy(operation)
    components = merged.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (schemas or {}).items():
        if name in components and components[name] != schema:
            raise ValueError(f"schema {name} is already in the document with another shape")
        components[name] = copy.deepcopy(schema)
    known = {t["name"] for t in merged.setdefault("tags", [])}
    merged["tags"] += [copy.deepcopy(dict(t)) for t in tags if t["name"] not in known]
    return merged


def render_json(document: Document) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


class _PlainDumper(yaml.SafeDumper):
    """Writes a shared sub-schema out again instead of as an anchor and alias, which some
    OpenAPI tools do not follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_yaml(document: Document) -> bytes:
    text: str = yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
    return text.encode()


__all__ = [
    "ERROR_SCHEMA",
    "OPENAPI_VERSION",
    "Comments",
    "build_document",
    "merge",
    "openapi_path",
    "operation_id",
    "render_json",
    "render_yaml",
]
