"""REST routes read from the `google.api.http` annotations of gRPC services.

Every admin RPC declares its REST shape in its contract (`option (google.api.http)`); this module
turns those options into `Route`s when the gateway starts, so no route is written by hand. Path
templates follow google/api/http.proto:

    Template = "/" Segments [ Verb ] ;   Segment = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;   Verb = ":" LITERAL ;

Decisions:
- A template is matched against the raw (still percent-encoded) path, split from its verb the
  way Envoy's transcoder does: a final `:suffix` is a verb only when some route declares that
  verb, so `/jobs/a:b` still reaches `{job_id}` with "a:b". Single-segment variables are fully
  percent-decoded; multi-segment ones keep `%2F` encoded (http.proto's reserved expansion).
- OpenAPI clients send a multi-segment value such as "keys/k1" as one encoded segment
  ("keys%2Fk1"), so when the raw path matches nothing, the lookup tries again with `%2F` decoded.
- `**` matches one or more segments (never an empty tail).
- Streaming RPCs are not transcoded: unannotated ones are skipped, an annotated one is refused at
  start-up, so a contract never silently loses a route.
- Every field path, body and response_body is checked against the messages at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[^/{}*:=]+")
_ENCODED_SLASH = re.compile("%2F", re.IGNORECASE)


class HttpRuleError(ValueError):
    """An annotation that cannot be served: bad template, unknown field, unsupported method."""


@dataclass(frozen=True)
class Variable:
    """A `{field.path=segments}` capture; `segments` are "*", "**" or literals."""

    field_path: str
    segments: tuple[str, ...] = ("*",)

    @property
    def multi_segment(self) -> bool:
        return len(self.segments) > 1 or "**" in self.segments


Segment = str | Variable


@dataclass(frozen=True)
class PathTemplate:
    """A parsed path template with the regular expression that matches it."""

    text: str
    segments: tuple[Segment, ...]
    verb: str | None
    pattern: re.Pattern[str] = field(repr=False, compare=False)

    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(s for s in self.segments if isinstance(s, Variable))

    @property
    def literal_count(self) -> int:
        """Literal segments, inside variables too: the more, the more specific the template."""
        flat = [p for s in self.segments for p in (s.segments if isinstance(s, Variable) else (s,))]
        return sum(1 for p in flat if p not in ("*", "**"))

    def match(self, path: str, verb: str | None) -> dict[str, str] | None:
        """The variables bound by `path` (without its verb), or None when it does not match."""
        if verb != self.verb:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values = found.groups()
        return {
            v.field_path: _decode(val, v) for v, val in zip(self.variables, values, strict=True)
        }


def _decode(value: str, variable: Variable) -> str:
    if not variable.multi_segment:
        return unquote(value)
    # Reserved expansion: an encoded "/" stays encoded inside a multi-segment value.
    return "%2F".join(unquote(part) for part in _ENCODED_SLASH.split(value))


def parse_template(text: str) -> PathTemplate:
    """Parse a path template; raises HttpRuleError naming what is wrong."""
    if not text.startswith("/") or text == "/":
        raise HttpRuleError(f"path template {text!r} must start with '/' and name a segment")
    body, verb = _split_template_verb(text[1:], text)
    segments = tuple(_parse_segment(part, text) for part in _split_top(body, text))
    _check_double_star_last(segments, text)
    regex = "/" + "/".join(_segment_regex(s) for s in segments)
    return PathTemplate(text, segments, verb, re.compile(regex))


def _split_template_verb(body: str, text: str) -> tuple[str, str | None]:
    depth = 0
    for index, char in enumerate(body):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == ":" and depth == 0:
            verb = body[index + 1 :]
            if not _LITERAL.fullmatch(verb):
                raise HttpRuleError(f"bad verb {verb!r} in {text!r}")
            return body[:index], verb
    return body, None


def _split_top(body: str, text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "/" and depth == 0:
            parts.append(body[start:index])
            start = index + 1
        if depth not in (0, 1):
            raise HttpRuleError(f"unbalanced or nested braces in {text!r}")
    if depth != 0:
        raise HttpRuleError(f"unbalanced braces in {text!r}")
    parts.append(body[start:])
    return parts


def _parse_segment(part: str, text: str) -> Segment:
    if part in ("*", "**") or _LITERAL.fullmatch(part):
        return part
    if part.startswith("{") and part.endswith("}"):
        name, _, inner = part[1:-1].partition("=")
        if not all(_IDENT.fullmatch(p) for p in name.split(".")):
            raise HttpRuleError(f"bad field path {name!r} in {text!r}")
        if not inner:
            return Variable(name)
        segments = tuple(inner.split("/"))
        if not all(s in ("*", "**") or _LITERAL.fullmatch(s) for s in segments):
            raise HttpRuleError(f"bad variable segments {inner!r} in {text!r}")
        return Variable(name, segments)
    raise HttpRuleError(f"bad segment {part!r} in {text!r}")


def _check_double_star_last(segments: tuple[Segment, ...], text: str) -> None:
    flat = [p for s in segments for p in (s.segments if isinstance(s, Variable) else (s,))]
    if "**" in flat[:-1]:
        raise HttpRuleError(f"'**' must be the last segment in {text!r}")


def _segment_regex(segment: Segment) -> str:
    if isinstance(segment, Variable):
        return "(" + "/".join(_plain_regex(s) for s in segment.segments) + ")"
    return _plain_regex(segment)


def _plain_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return "[^/]+(?:/[^/]+)*"
    return re.escape(segment)


@dataclass(frozen=True)
class Route:
    """One REST binding of one unary RPC."""

    http_method: str
    template: PathTemplate
    method: MethodDescriptor = field(repr=False, compare=False)
    body: str | None
    response_body: str | None
    binding_index: int = 0

    @property
    def full_name(self) -> str:
        """The method's full name, e.g. "switchboard.cost.v1.CostService.GetSpend"."""
        return str(self.method.full_name)

    @property
    def service_name(self) -> str:
        return str(self.method.containing_service.full_name)

    @property
    def grpc_path(self) -> str:
        """The HTTP/2 path of the gRPC call, e.g. "/switchboard.cost.v1.CostService/GetSpend"."""
        return f"/{self.service_name}/{self.method.name}"

    @property
    def path_fields(self) -> tuple[str, ...]:
        return tuple(v.field_path for v in self.template.variables)


def resolve_field_path(
    message: Descriptor, path: str, *, json_names: bool = False
) -> tuple[FieldDescriptor, ...]:
    """The fields along a dotted path; intermediate fields must be singular messages.

    With `json_names`, each part may be the field's proto name or its lowerCamelCase JSON name.
    Raises KeyError naming the first unknown part.
    """
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for part in path.split("."):
        if current is None or (fields and fields[-1].is_repeated):
            raise KeyError(f"{path}: {part!r} is not inside a singular message")
        found = _field_named(current, part, json_names)
        if found is None:
            raise KeyError(f"{path}: no field {part!r} in {current.full_name}")
        fields.append(found)
        current = found.message_type
    return tuple(fields)


def _field_named(message: Descriptor, name: str, json_names: bool) -> FieldDescriptor | None:
    found: FieldDescriptor | None = message.fields_by_name.get(name)
    if found is None and json_names:
        found = next((f for f in message.fields if f.json_name == name), None)
    return found


def routes_of(service: ServiceDescriptor) -> list[Route]:
    """The routes of every annotated unary method of `service`, in declaration order."""
    routes: list[Route] = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        if method.client_streaming or method.server_streaming:
            raise HttpRuleError(f"{method.full_name}: streaming RPCs are not transcoded")
        rule = options.Extensions[annotations_pb2.http]
        bindings = [rule, *rule.additional_bindings]
        routes += [_route(method, binding, index) for index, binding in enumerate(bindings)]
    return routes


def _route(method: MethodDescriptor, rule: http_pb2.HttpRule, index: int) -> Route:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise HttpRuleError(f"{method.full_name}: an http rule needs a method and a path")
    if kind == "custom":
        http_method, path = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, path = kind.upper(), getattr(rule, kind)
    route = Route(
        http_method=http_method,
        template=parse_template(path),
        method=method,
        body=rule.body or None,
        response_body=rule.response_body or None,
        binding_index=index,
    )
    _check_fields(route)
    return route


def _check_fields(route: Route) -> None:
    request, response = route.method.input_type, route.method.output_type
    try:
        for path in route.path_fields:
            last = resolve_field_path(request, path)[-1]
            if last.is_repeated or last.message_type is not None:
                raise KeyError(f"{path}: a path variable must be a singular scalar field")
        if route.body not in (None, "*"):
            _top_level(request, str(route.body))
        if route.response_body is not None:
            _top_level(response, route.response_body)
    except KeyError as error:
        raise HttpRuleError(f"{route.full_name}: {error.args[0]}") from None


def _top_level(message: Descriptor, name: str) -> None:
    if name not in message.fields_by_name:
        raise KeyError(f"no field {name!r} in {message.full_name}")


@dataclass(frozen=True)
class Matched:
    route: Route
    path_params: dict[str, str]


@dataclass(frozen=True)
class NotAllowed:
    """The path exists, but not for this HTTP method."""

    allowed: tuple[str, ...]


class RouteTable:
    """Finds the route of a request; the most specific template wins (most literal segments)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(
            sorted(routes, key=lambda r: -r.template.literal_count)
        )
        self._verbs = frozenset(r.template.verb for r in self.routes if r.template.verb)
        _refuse_duplicates(self.routes)

    def lookup(self, http_method: str, raw_path: str) -> Matched | NotAllowed | None:
        """The route for `raw_path` (percent-encoded, no query string) and the method."""
        candidates = [raw_path]
        decoded = _ENCODED_SLASH.sub("/", raw_path)
        if decoded != raw_path:
            candidates.append(decoded)
        for path in candidates:
            found = self._lookup(http_method.upper(), path)
            if found is not None:
                return found
        return None

    def _lookup(self, http_method: str, path: str) -> Matched | NotAllowed | None:
        path, verb = split_verb(path, self._verbs)
        allowed: list[str] = []
        for route in self.routes:
            params = route.template.match(path, verb)
            if params is None:
                continue
            if route.http_method == http_method:
                return Matched(route, params)
            allowed.append(route.http_method)
        return NotAllowed(tuple(sorted(set(allowed)))) if allowed else None


def split_verb(path: str, verbs: Iterable[str]) -> tuple[str, str | None]:
    """Split a trailing `:verb` off `path` when `verb` is one the routes declare."""
    last = path.rsplit("/", 1)[-1]
    head, colon, verb = last.rpartition(":")
    if colon and head and verb in verbs:
        return path[: -len(verb) - 1], verb
    return path, None


def _refuse_duplicates(routes: Sequence[Route]) -> None:
    seen: dict[tuple[str, str, str | None], str] = {}
    for route in routes:
        template = route.template
        key = (route.http_method, template.pattern.pattern, template.verb)
        if key in seen:
            raise HttpRuleError(
                f"{route.http_method} {route.template.text} is bound by both {seen[key]} "
                f"and {route.full_name}"
            )
        seen[key] = route.full_name


def routes_of_services(services: Iterable[ServiceDescriptor]) -> RouteTable:
    """The route table of every annotated RPC of `services`."""
    return RouteTable(route for service in services for route in routes_of(service))


__all__ = [
    "HttpRuleError",
    "Matched",
    "NotAllowed",
    "PathTemplate",
    "Route",
    "RouteTable",
    "Variable",
    "parse_template",
    "resolve_field_path",
    "routes_of",
    "routes_of_services",
    "split_verb",
]
