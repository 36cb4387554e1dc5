"""Reading `google.api.http` rules: path templates, routes, and finding a request's route.

Besides the three real contracts, a small "library" contract built here (added to the default
descriptor pool under its own file name) covers what they do not use: additional bindings,
custom methods, response_body, nested and `**` variables, oneofs, maps and recursion.
"""

from __future__ import annotations

import itertools
import re

import pytest
from google.api import annotations_pb2, http_pb2

# The library contract's imports: loaded into the default pool before it.
from google.protobuf import (  # noqa: F401
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import ServiceDescriptor
from switchboard.cost.v1 import cost_service_pb2
from switchboard.ratelimit.v1 import ratelimit_service_pb2
from switchboard.router.v1 import router_service_pb2

from gateway.transcoding.http_rules import (
    HttpRuleError,
    Matched,
    NotAllowed,
    Route,
    RouteTable,
    Variable,
    parse_template,
    resolve_field_path,
    routes_of,
    routes_of_services,
    split_verb,
)

_F = descriptor_pb2.FieldDescriptorProto
SERVICES: list[ServiceDescriptor] = [
    ratelimit_service_pb2.DESCRIPTOR.services_by_name["RateLimitService"],
    router_service_pb2.DESCRIPTOR.services_by_name["RouterService"],
    cost_service_pb2.DESCRIPTOR.services_by_name["CostService"],
]


def _field(
    name: str,
    number: int,
    kind: int,
    type_name: str = "",
    *,
    repeated: bool = False,
    oneof: int | None = None,
    proto3_optional: bool = False,
) -> descriptor_pb2.FieldDescriptorProto:
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = _F(name=name, number=number, type=kind, label=label)  # type: ignore[arg-type]
    if type_name:
        field.type_name = type_name
    if oneof is not None:
        field.oneof_index = oneof
    field.proto3_optional = proto3_optional
    return field


def _method(
    name: str, rule: http_pb2.HttpRule | None, out: str = ".library.v1.Book", stream: bool = False
) -> descriptor_pb2.MethodDescriptorProto:
    method = descriptor_pb2.MethodDescriptorProto(
        name=name, input_type=".library.v1.Book", output_type=out, server_streaming=stream
    )
    if rule is not None:
        method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    return method


def _library_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tests/gateway/transcoding/library.proto",
        package="library.v1",
        syntax="proto3",
        dependency=[
            "google/protobuf/timestamp.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/struct.proto",
            "google/protobuf/wrappers.proto",
        ],
    )
    genre = file.enum_type.add(name="Genre")
    genre.value.add(name="GENRE_UNSPECIFIED", number=0)
    genre.value.add(name="GENRE_SF", number=1)
    genre.value.add(name="GENRE_POETRY", number=2)
    book = file.message_type.add(name="Book")
    book.field.extend(
        [
            _field("name", 1, _F.TYPE_STRING),
            _field("pages", 2, _F.TYPE_INT64),
            _field("shelf", 3, _F.TYPE_MESSAGE, ".library.v1.Shelf"),
            _field("labels", 4, _F.TYPE_MESSAGE, ".library.v1.Book.LabelsEntry", repeated=True),
            _field("hard_cover", 5, _F.TYPE_STRING, oneof=0),
            _field("soft_cover", 6, _F.TYPE_STRING, oneof=0),
            _field("year", 7, _F.TYPE_INT32, oneof=1, proto3_optional=True),
            _field("published", 8, _F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
            _field("read_time", 9, _F.TYPE_MESSAGE, ".google.protobuf.Duration"),
            _field("genre", 10, _F.TYPE_ENUM, ".library.v1.Genre"),
            _field("genres", 11, _F.TYPE_ENUM, ".library.v1.Genre", repeated=True),
            _field("available", 12, _F.TYPE_BOOL),
            _field("rating", 13, _F.TYPE_DOUBLE),
            _field("tags", 14, _F.TYPE_STRING, repeated=True),
            _field("extra", 15, _F.TYPE_MESSAGE, ".google.protobuf.Struct"),
            _field("copies", 16, _F.TYPE_UINT64),
            _field("cover_image", 17, _F.TYPE_BYTES),
            _field("stock", 18, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value"),
            _field("signed", 19, _F.TYPE_MESSAGE, ".google.protobuf.BoolValue"),
            _field("sequel", 20, _F.TYPE_MESSAGE, ".library.v1.Book"),
            _field("editions", 21, _F.TYPE_MESSAGE, ".library.v1.Book", repeated=True),
            _field("weight", 22, _F.TYPE_FLOAT),
            _field("isbn", 23, _F.TYPE_FIXED32),
        ]
    )
    book.oneof_decl.add(name="cover")
    book.oneof_decl.add(name="_year")
    entry = book.nested_type.add(name="LabelsEntry")
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, _F.TYPE_STRING), _field("value", 2, _F.TYPE_STRING)])
    shelf = file.message_type.add(name="Shelf")
    shelf.field.extend(
        [
            _field("id", 1, _F.TYPE_STRING),
            _field("books", 2, _F.TYPE_MESSAGE, ".library.v1.Book", repeated=True),
        ]
    )
    service = file.service.add(name="LibraryService")
    get = http_pb2.HttpRule(get="/v1/{name=shelves/*/books/*}")
    get.additional_bindings.add(get="/v1/shelves/{shelf.id}/novels/{name}")
    service.method.extend(
        [
            _method("GetBook", get),
            _method(
                "UpdateBook", http_pb2.HttpRule(patch="/v1/{name=shelves/*/books/*}", body="*")
            ),
            _method("MoveBook", http_pb2.HttpRule(post="/v1/books/{name}:move", body="shelf")),
            _method(
                "SearchBooks",
                http_pb2.HttpRule(
                    custom=http_pb2.CustomHttpPattern(kind="search", path="/v1/books"),
                    response_body="books",
                ),
                out=".library.v1.Shelf",
            ),
            _method(
                "ListEditions",
                http_pb2.HttpRule(get="/v1/shelves/{shelf.id}/editions", response_body="editions"),
            ),
            _method("Archive", http_pb2.HttpRule(get="/v1/archive/{name=**}")),
            _method("ArchiveIndex", http_pb2.HttpRule(get="/v1/archive/index")),
            _method("WatchBooks", None, stream=True),
            _method("Internal", None),
        ]
    )
    return file


def _load_library() -> ServiceDescriptor:
    pool = descriptor_pool.Default()
    try:
        file = pool.FindFileByName("tests/gateway/transcoding/library.proto")
    except KeyError:
        file = pool.AddSerializedFile(_library_file().SerializeToString())
    service: ServiceDescriptor = file.services_by_name["LibraryService"]
    return service


LIBRARY = _load_library()
BOOK = LIBRARY.file.message_types_by_name["Book"]


def library_method(name: str) -> descriptor_pb2.MethodDescriptorProto:
    """A copy of one library method, to build broken variants of it."""
    proto = descriptor_pb2.ServiceDescriptorProto()
    LIBRARY.CopyToProto(proto)
    return next(m for m in proto.method if m.name == name)


_BROKEN = itertools.count(1)


def _service_with(*methods: descriptor_pb2.MethodDescriptorProto) -> ServiceDescriptor:
    """A one-off service over the library's messages (a new file in the default pool)."""
    number = next(_BROKEN)
    file = descriptor_pb2.FileDescriptorProto(
        name=f"tests/gateway/transcoding/broken_{number}.proto",
        package=f"broken{number}.v1",
        syntax="proto3",
        dependency=[LIBRARY.file.name],
    )
    file.service.add(name="Broken").method.extend(methods)
    added = descriptor_pool.Default().AddSerializedFile(file.SerializeToString())
    service: ServiceDescriptor = added.services_by_name["Broken"]
    return service


# Path templates ------------------------------------------------------------------------------


def test_a_template_parses_literals_variables_and_a_verb() -> None:
    template = parse_template("/v1/{override.subject=*/*}/usage:reset")
    assert template.segments == ("v1", Variable("override.subject", ("*", "*")), "usage")
    assert template.verb == "reset"
    assert template.match("/v1/keys/k1/usage", "reset") == {"override.subject": "keys/k1"}


def test_a_plain_variable_matches_one_segment_and_is_percent_decoded() -> None:
    template = parse_template("/v1/jobs/{job_id}")
    assert template.match("/v1/jobs/a%20b%2Fc", None) == {"job_id": "a b/c"}
    assert template.match("/v1/jobs/a/b", None) is None
    assert template.match("/v1/jobs/a", "cancel") is None


def test_a_multi_segment_variable_keeps_an_encoded_slash_encoded() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}")
    assert template.match("/v1/shelves/s1/books/b%201", None) == {"name": "shelves/s1/books/b 1"}
    assert template.match("/v1/shelves/s%2F1/books/b", None) == {"name": "shelves/s%2F1/books/b"}
    assert template.match("/v1/shelves/s1/novels/b", None) is None


def test_a_double_star_variable_takes_the_rest_of_the_path() -> None:
    template = parse_template("/v1/archive/{name=**}")
    assert template.match("/v1/archive/a/b/c", None) == {"name": "a/b/c"}
    assert template.match("/v1/archive/a", None) == {"name": "a"}


def test_wildcards_outside_variables_match_without_binding() -> None:
    template = parse_template("/v1/*/items/**")
    assert template.match("/v1/x/items/a/b", None) == {}
    assert template.literal_count == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v1/books", "must start with '/'"),
        ("/", "must start with '/'"),
        ("/v1/**/books", "'**' must be the last"),
        ("/v1/{name=**}/books", "'**' must be the last"),
        ("/v1/{name", "unbalanced"),
        ("/v1/name}", "unbalanced"),
        ("/v1/{a{b}}", "nested braces"),
        ("/v1/{9name}", "bad field path"),
        ("/v1/{name=a:b}", "bad variable segments"),
        ("/v1/books:", "bad verb"),
        ("/v1/bo*ks", "bad segment"),
    ],
)
def test_a_bad_template_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(HttpRuleError, match=re.escape(problem)):
        parse_template(text)


def test_a_verb_is_split_only_when_some_route_declares_it() -> None:
    assert split_verb("/v1/jobs/a:cancel", {"cancel"}) == ("/v1/jobs/a", "cancel")
    assert split_verb("/v1/jobs/a:b", {"cancel"}) == ("/v1/jobs/a:b", None)
    assert split_verb("/v1/jobs/:cancel", {"cancel"}) == ("/v1/jobs/:cancel", None)


# Routes from annotations --------------------------------------------------------------------


def test_routes_include_additional_bindings_custom_methods_and_response_body() -> None:
    routes = {(r.full_name, r.binding_index): r for r in routes_of(LIBRARY)}
    get, extra = (
        routes[("library.v1.LibraryService.GetBook", 0)],
        routes[("library.v1.LibraryService.GetBook", 1)],
    )
    assert (get.http_method, get.template.text) == ("GET", "/v1/{name=shelves/*/books/*}")
    assert extra.template.text == "/v1/shelves/{shelf.id}/novels/{name}"
    assert extra.path_fields == ("shelf.id", "name")
    search = routes[("library.v1.LibraryService.SearchBooks", 0)]
    assert (search.http_method, search.response_body) == ("SEARCH", "books")
    move = routes[("library.v1.LibraryService.MoveBook", 0)]
    assert (move.body, move.template.verb) == ("shelf", "move")
    assert move.grpc_path == "/library.v1.LibraryService/MoveBook"
    assert move.service_name == "library.v1.LibraryService"


def test_unannotated_methods_and_streaming_methods_without_rules_are_skipped() -> None:
    names = {r.method.name for r in routes_of(LIBRARY)}
    assert names == {
        "GetBook",
        "UpdateBook",
        "MoveBook",
        "SearchBooks",
        "ListEditions",
        "Archive",
        "ArchiveIndex",
    }


def _broken(rule: http_pb2.HttpRule, *, stream: bool = False) -> ServiceDescriptor:
    method = library_method("GetBook")
    method.server_streaming = stream
    method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    return _service_with(method)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (http_pb2.HttpRule(get="/v1/{nope}"), "no field 'nope'"),
        (http_pb2.HttpRule(get="/v1/{shelf}"), "singular scalar"),
        (http_pb2.HttpRule(get="/v1/{tags}"), "singular scalar"),
        (http_pb2.HttpRule(get="/v1/{editions.name}"), "not inside a singular message"),
        (http_pb2.HttpRule(get="/v1/{name.x}"), "not inside a singular message"),
        (http_pb2.HttpRule(post="/v1/b", body="nope"), "no field 'nope'"),
        (http_pb2.HttpRule(get="/v1/b", response_body="nope"), "no field 'nope'"),
        (http_pb2.HttpRule(body="*"), "needs a method and a path"),
    ],
)
def test_a_rule_naming_what_the_messages_lack_fails_at_start_up(
    rule: http_pb2.HttpRule, problem: str
) -> None:
    with pytest.raises(HttpRuleError, match=re.escape(problem)):
        routes_of(_broken(rule))


def test_an_annotated_streaming_method_fails_at_start_up() -> None:
    with pytest.raises(HttpRuleError, match="streaming RPCs are not transcoded"):
        routes_of(_broken(http_pb2.HttpRule(get="/v1/stream"), stream=True))


def test_two_rules_binding_the_same_method_and_path_are_refused() -> None:
    first = library_method("GetBook")
    second = library_method("UpdateBook")
    second.options.Extensions[annotations_pb2.http].CopyFrom(
        http_pb2.HttpRule(get="/v1/{other=shelves/*/books/*}".replace("other", "name"))
    )
    with pytest.raises(HttpRuleError, match="bound by both"):
        RouteTable(routes_of(_service_with(first, second)))


def test_field_paths_resolve_by_proto_or_json_name() -> None:
    assert [f.name for f in resolve_field_path(BOOK, "shelf.id")] == ["shelf", "id"]
    assert resolve_field_path(BOOK, "readTime", json_names=True)[0].name == "read_time"
    with pytest.raises(KeyError, match="no field 'readTime'"):
        resolve_field_path(BOOK, "readTime")


# Finding a request's route --------------------------------------------------------------------


@pytest.fixture
def library() -> RouteTable:
    return RouteTable(routes_of(LIBRARY))


def test_lookup_finds_the_route_and_its_path_values(library: RouteTable) -> None:
    found = library.lookup("get", "/v1/shelves/s1/books/b1")
    assert isinstance(found, Matched)
    assert found.route.method.name == "GetBook"
    assert found.path_params == {"name": "shelves/s1/books/b1"}


def test_a_known_path_with_another_method_is_not_allowed(library: RouteTable) -> None:
    assert library.lookup("DELETE", "/v1/shelves/s1/books/b1") == NotAllowed(("GET", "PATCH"))


def test_an_unknown_path_finds_nothing(library: RouteTable) -> None:
    assert library.lookup("GET", "/v2/shelves") is None


def test_a_multi_segment_value_sent_as_one_encoded_segment_is_found(library: RouteTable) -> None:
    found = library.lookup("GET", "/v1/shelves%2Fs1%2Fbooks%2Fb1")
    assert isinstance(found, Matched)
    assert found.path_params == {"name": "shelves/s1/books/b1"}


def test_a_declared_verb_is_not_swallowed_by_a_variable(library: RouteTable) -> None:
    moved = library.lookup("POST", "/v1/books/b1:move")
    assert isinstance(moved, Matched)
    assert moved.path_params == {"name": "b1"}
    assert library.lookup("GET", "/v1/books/b1:move") == NotAllowed(("POST",))


def test_the_template_with_more_literals_wins() -> None:
    for routes in (routes_of(LIBRARY), list(reversed(routes_of(LIBRARY)))):
        table = RouteTable(routes)
        index = table.lookup("GET", "/v1/archive/index")
        other = table.lookup("GET", "/v1/archive/old/index")
        assert isinstance(index, Matched)
        assert isinstance(other, Matched)
        assert (index.route.method.name, other.route.method.name) == ("ArchiveIndex", "Archive")


def test_an_additional_binding_reaches_the_same_method(library: RouteTable) -> None:
    found = library.lookup("GET", "/v1/shelves/s1/novels/b1")
    assert isinstance(found, Matched)
    assert (found.route.method.name, found.route.binding_index) == ("GetBook", 1)
    assert found.path_params == {"shelf.id": "s1", "name": "b1"}


# Every RPC of the real contracts -------------------------------------------------------------


def _annotated(service: ServiceDescriptor) -> list[str]:
    return [
        m.full_name for m in service.methods if m.GetOptions().HasExtension(annotations_pb2.http)
    ]


ALL_ROUTES: list[Route] = list(routes_of_services(SERVICES).routes)


def sample_path(route: Route) -> str:
    """A concrete path for the route's template, each variable filled with a sample value."""
    parts = []
    for segment in route.template.segments:
        if isinstance(segment, Variable):
            parts.append("/".join("x1" if s in ("*", "**") else s for s in segment.segments))
        else:
            parts.append(segment)
    verb = f":{route.template.verb}" if route.template.verb else ""
    return "/" + "/".join(parts) + verb


def test_every_annotated_rpc_of_every_contract_has_exactly_one_route() -> None:
    annotated = sorted(name for service in SERVICES for name in _annotated(service))
    assert sorted(r.full_name for r in ALL_ROUTES) == annotated
    assert len(annotated) == 32


@pytest.mark.parametrize("route", ALL_ROUTES, ids=lambda r: r.full_name)
def test_every_route_of_the_contracts_is_found_from_its_own_path(route: Route) -> None:
    table = routes_of_services(SERVICES)
    found = table.lookup(route.http_method, sample_path(route))
    assert isinstance(found, Matched)
    assert found.route.full_name == route.full_name
    assert set(found.path_params) == set(route.path_fields)
