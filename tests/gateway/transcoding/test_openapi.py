"""The OpenAPI 3.1 document of the transcoded routes.

No OpenAPI 3.1 validator is installed (openapi-spec-validator is on PyPI but not a dependency),
so these tests check the invariants a validator and Swagger UI rely on: every route is there,
every `$ref` resolves, path parameters match the path templates, operationIds are unique.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import google.api.annotations_pb2 as api_annotations
import pytest
import yaml
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from gateway.transcoding.http_rules import Route, routes_of, routes_of_services
from gateway.transcoding.openapi import (
    ERROR_SCHEMA,
    Document,
    build_document,
    merge,
    openapi_path,
    operation_id,
    render_json,
    render_yaml,
)
from gateway.transcoding.proto_comments import Comments

from .test_http_rules import LIBRARY, SERVICES

ROUTES = list(routes_of_services(SERVICES).routes)
PROTOS = Path(__file__).resolve().parents[3] / "protos"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document() -> Document:
    return build_document(ROUTES, title="Switchboard admin", version="1.2.3", description="Admin")


@pytest.fixture(scope="module")
def library() -> Document:
    return build_document(routes_of(LIBRARY))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: Document, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _schema(document: Document, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


# Structure ------------------------------------------------------------------------------------


def test_the_document_is_openapi_3_1_with_its_info(document: Document) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {
        "title": "Switchboard admin",
        "version": "1.2.3",
        "description": "Admin",
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.full_name)
def test_every_route_is_an_operation(document: Document, route: Route) -> None:
    operation = document["paths"][openapi_path(route)][route.http_method.lower()]
    assert operation["operationId"] == operation_id(route)
    assert operation["tags"] == [route.service_name]
    assert set(operation["responses"]) == {"200", "default"}


def test_the_document_has_nothing_but_the_routes(document: Document) -> None:
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert documented == {(openapi_path(r), r.http_method.lower()) for r in ROUTES}


def test_every_ref_resolves(document: Document, library: Document) -> None:
    for doc in (document, library):
        refs = set(_refs(doc))
        assert refs
        for ref in refs:
            assert isinstance(_resolve(doc, ref), dict), ref


def test_path_parameters_match_the_path_templates(document: Document, library: Document) -> None:
    for doc in (document, library):
        for path, _, operation in _operations(doc):
            in_path = set(re.findall(r"{([^}]+)}", path))
            declared = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            assert {p["name"] for p in declared} == in_path, path
            assert all(p["required"] is True for p in declared)


def test_operation_ids_are_unique_and_tags_are_declared(document: Document) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)) == len(ROUTES)
    tags = [t["name"] for t in document["tags"]]
    assert tags == sorted({r.service_name for r in ROUTES})
    assert {t for _, _, o in _operations(document) for t in o["tags"]} == set(tags)


def test_errors_share_one_schema_in_googles_shape(document: Document) -> None:
    error = _schema(document, ERROR_SCHEMA)
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {
        "code",
        "status",
        "message",
        "details",
    }


def test_the_json_and_yaml_renderings_are_the_same_document(document: Document) -> None:
    assert json.loads(render_json(document)) == document
    assert yaml.safe_load(render_yaml(document)) == document
    assert b"&id" not in render_yaml(document)


# Operations -----------------------------------------------------------------------------------


def _operation(document: Document, path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", [])}


def test_query_parameters_are_the_remaining_leaf_fields_typed_by_json_mapping(
    document: Document,
) -> None:
    parameters = _parameters(_operation(document, "/v1/cost/spend", "get"))
    assert set(parameters) == {"start", "end", "groupBy", "tenant", "subject", "model"}
    assert parameters["start"]["schema"] == {"type": "string", "format": "date-time"}
    assert parameters["groupBy"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/switchboard.cost.v1.SpendDimension"},
    }
    assert _schema(document, "switchboard.cost.v1.SpendDimension")["enum"][1] == (
        "SPEND_DIMENSION_TENANT"
    )


def test_nested_query_parameters_are_dotted(document: Document) -> None:
    parameters = _parameters(_operation(document, "/v1/cost/spend:export", "get"))
    assert {"query.start", "query.groupBy", "format"} <= set(parameters)


def test_a_multi_segment_path_parameter_has_its_pattern(document: Document) -> None:
    parameters = _parameters(_operation(document, "/v1/{override.subject}/override", "put"))
    subject = parameters["override.subject"]
    assert subject["schema"] == {"type": "string", "pattern": "^[^/]+/[^/]+$"}
    assert "percent-encoded" in subject["description"]


def test_a_body_star_route_documents_the_body_without_the_path_fields(document: Document) -> None:
    operation = _operation(document, "/v1/reservations/{reservation_id}:commit", "post")
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"actualTokens"}
    assert "parameters" in operation
    assert set(_parameters(operation)) == {"reservation_id"}


def test_a_body_star_route_without_path_fields_refers_to_the_request(document: Document) -> None:
    operation = _operation(document, "/v1/quota:check", "post")
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/switchboard.ratelimit.v1.CheckQuotaRequest"}
    assert "parameters" not in operation


def test_a_body_field_route_documents_that_field(document: Document) -> None:
    operation = _operation(document, "/v1/cost/budgets", "post")
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/switchboard.cost.v1.Budget"}


def test_an_http_body_response_is_any_content(document: Document) -> None:
    operation = _operation(document, "/v1/cost/spend:export", "get")
    assert set(operation["responses"]["200"]["content"]) == {"*/*"}


def test_a_response_body_route_documents_that_field(library: Document) -> None:
    operation = _operation(library, "/v1/shelves/{shelf.id}/editions", "get")
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"type": "array", "items": {"$ref": "#/components/schemas/library.v1.Book"}}


def test_a_custom_method_openapi_cannot_express_is_left_out(library: Document) -> None:
    assert "/v1/books" not in library["paths"]


def test_additional_bindings_get_their_own_operation_ids(library: Document) -> None:
    ids = {o["operationId"] for _, _, o in _operations(library)}
    assert {"LibraryService_GetBook", "LibraryService_GetBook_2"} <= ids


def test_without_comments_an_operation_is_summarised_by_its_method(document: Document) -> None:
    operation = _operation(document, "/v1/tiers", "get")
    assert operation["summary"] == "ListTiers"
    assert "description" not in operation


# Schemas --------------------------------------------------------------------------------------


def test_message_schemas_follow_the_proto3_json_mapping(library: Document) -> None:
    book = _schema(library, "library.v1.Book")["properties"]
    assert book["pages"] == {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
    assert book["copies"] == {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}
    assert book["year"]["format"] == "int32"
    assert book["isbn"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": 2**32 - 1,
    }
    assert book["rating"] == {"type": "number", "format": "double"}
    assert book["weight"] == {"type": "number", "format": "float"}
    assert book["available"] == {"type": "boolean"}
    assert book["coverImage"]["format"] == "byte"
    assert book["genres"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/library.v1.Genre"},
    }
    assert book["tags"] == {"type": "array", "items": {"type": "string"}}
    assert book["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert book["published"] == {"type": "string", "format": "date-time"}
    assert book["readTime"]["pattern"] == "^-?[0-9]+(\\.[0-9]{1,9})?s$"
    assert book["extra"] == {"type": "object", "additionalProperties": True}
    assert book["stock"]["format"] == "int64"
    assert book["signed"] == {"type": "boolean"}


def test_recursive_messages_refer_to_their_components(library: Document) -> None:
    book = _schema(library, "library.v1.Book")["properties"]
    assert book["sequel"] == {"$ref": "#/components/schemas/library.v1.Book"}
    shelf = _schema(library, "library.v1.Shelf")["properties"]
    assert shelf["books"]["items"] == {"$ref": "#/components/schemas/library.v1.Book"}


def test_a_oneof_admits_at_most_one_of_its_fields_and_optional_is_no_oneof(
    library: Document,
) -> None:
    book = _schema(library, "library.v1.Book")
    assert book["not"] == {"anyOf": [{"required": ["hardCover", "softCover"]}]}
    assert book["x-oneofs"] == [["hardCover", "softCover"]]
    assert "At most one of: hardCover, softCover." in book["description"]


def test_the_map_entry_is_not_a_component(library: Document) -> None:
    assert not any(name.endswith("Entry") for name in library["components"]["schemas"])


# Comments ------------------------------------------------------------------------------------


def _descriptor_set(tmp_path: Path) -> bytes:
    """The contracts compiled with their comments, as `protoc --include_source_info` does."""
    well_known = resources.files("grpc_tools") / "_proto"
    googleapis = Path(api_annotations.__file__).resolve().parents[2]
    out = tmp_path / "contracts.binpb"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = ["protoc", f"-I{PROTOS}", f"-I{well_known}", f"-I{googleapis}"]
    args += ["--include_source_info", f"--descriptor_set_out={out}", *files]
    assert protoc.main(args) == 0
    return out.read_bytes()


def test_proto_comments_become_summaries_descriptions_and_tag_texts(tmp_path: Path) -> None:
    comments = Comments.from_descriptor_set(_descriptor_set(tmp_path))
    document = build_document(ROUTES, comments=comments)
    spend = _operation(document, "/v1/cost/spend", "get")
    summary = "Spend and tokens in a time range, grouped and optionally as a daily series."
    assert spend["summary"] == summary
    tags = {t["name"]: t.get("description", "") for t in document["tags"]}
    assert tags["switchboard.cost.v1.CostService"].startswith("What LLM calls cost")
    tenant = _parameters(spend)["tenant"]
    assert tenant["schema"]["description"] == "Only this tenant's spend, when set."
    dimension = _schema(document, "switchboard.cost.v1.SpendDimension")
    assert dimension["description"] == "A dimension to group spend by."


def test_the_generated_modules_carry_no_comments() -> None:
    """Documents why the gateway needs a descriptor set for descriptions (see openapi.py)."""
    assert Comments.from_routes(ROUTES).by_name == {}


def test_comments_of_nested_declarations_are_found_by_full_name() -> None:
    file = descriptor_pb2.FileDescriptorProto(name="n.proto", package="n.v1")
    outer = file.message_type.add(name="Outer")
    outer.field.add(name="id")
    outer.nested_type.add(name="Inner")
    outer.enum_type.add(name="Kind").value.add(name="KIND_A")
    file.enum_type.add(name="Top").value.add(name="TOP_A")
    service = file.service.add(name="Svc")
    service.method.add(name="Do")
    texts = {
        (4, 0): " The outer.\n Two lines.\n",
        (4, 0, 2, 0): " Its id.",
        (4, 0, 3, 0): " The inner.",
        (4, 0, 4, 0): " A kind.",
        (4, 0, 4, 0, 2, 0): " The first kind.",
        (5, 0): " A top enum.",
        (5, 0, 2, 0): " The first top.",
        (6, 0): " A service.",
        (6, 0, 2, 0): " Does it.",
    }
    for path, text in texts.items():
        file.source_code_info.location.add(path=list(path), leading_comments=text)
    file.source_code_info.location.add(path=[4, 0, 2], trailing_comments=" no declaration")
    assert Comments.from_files([file]).by_name == {
        "n.v1.Outer": "The outer.\nTwo lines.",
        "n.v1.Outer.id": "Its id.",
        "n.v1.Outer.Inner": "The inner.",
        "n.v1.Outer.Kind": "A kind.",
        "n.v1.Outer.KIND_A": "The first kind.",
        "n.v1.Top": "A top enum.",
        "n.v1.TOP_A": "The first top.",
        "n.v1.Svc": "A service.",
        "n.v1.Svc.Do": "Does it.",
    }


# Merging the OpenAI routes --------------------------------------------------------------------

OPENAI_PATHS = {
    "/v1/chat/completions": {"post": {"operationId": "createChatCompletion", "responses": {}}},
    "/v1/models": {"get": {"operationId": "listModels", "responses": {}}},
}


def test_merge_adds_the_openai_paths_schemas_and_tags(document: Document) -> None:
    merged = merge(
        document,
        OPENAI_PATHS,
        schemas={"openai.Error": {"type": "object"}},
        tags=[{"name": "OpenAI"}, {"name": "switchboard.cost.v1.CostService"}],
    )
    assert merged["paths"]["/v1/models"]["get"]["operationId"] == "listModels"
    assert _schema(merged, "openai.Error") == {"type": "object"}
    assert [t["name"] for t in merged["tags"]].count("switchboard.cost.v1.CostService") == 1
    assert merged["tags"][-1] == {"name": "OpenAI"}
    assert "/v1/models" not in document["paths"]


def test_merge_adds_a_method_to_an_existing_path(document: Document) -> None:
    merged = merge(document, {"/v1/tiers": {"post": {"responses": {}}}})
    assert set(merged["paths"]["/v1/tiers"]) == {"get", "post"}


def test_merge_refuses_to_overwrite_an_operation(document: Document) -> None:
    with pytest.raises(ValueError, match="GET /v1/tiers is already in the document"):
        merge(document, {"/v1/tiers": {"get": {}}})


def test_merge_accepts_an_identical_schema_and_refuses_a_different_one(
    document: Document,
) -> None:
    same = _schema(document, ERROR_SCHEMA)
    assert _schema(merge(document, {}, schemas={ERROR_SCHEMA: same}), ERROR_SCHEMA) == same
    with pytest.raises(ValueError, match="another shape"):
        merge(document, {}, schemas={ERROR_SCHEMA: {"type": "string"}})


def test_two_routes_on_one_documented_path_and_method_are_refused() -> None:
    routes = routes_of(LIBRARY)
    with pytest.raises(ValueError, match="documented twice"):
        build_document([*routes, routes[0]])


def test_every_operation_uses_a_known_http_method(document: Document, library: Document) -> None:
    for doc in (document, library):
        assert {m for _, m, _ in _operations(doc)} <= METHODS
