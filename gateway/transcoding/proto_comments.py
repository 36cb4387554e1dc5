"""The comments of .proto files, by element, for the OpenAPI document's summaries.

The generated modules are compiled without `source_code_info`, so comments come from a
FileDescriptorSet compiled with `--include_source_info` when one is given (see `openapi`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

from gateway.transcoding.http_rules import Route


class Comments:
    """The .proto comments of declarations, by full name (methods, messages, fields, enums)."""

    def __init__(self, by_name: Mapping[str, str] | None = None) -> None:
        self.by_name: dict[str, str] = dict(by_name or {})

    def get(self, full_name: str) -> str:
        return self.by_name.get(full_name, "")

    @classmethod
    def from_files(cls, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> Comments:
        """Comments of files compiled with source info (others contribute nothing)."""
        by_name: dict[str, str] = {}
        for file in files:
            texts = {tuple(loc.path): _comment(loc) for loc in file.source_code_info.location}
            for path, name in _declarations(file):
                if texts.get(path):
                    by_name[name] = texts[path]
        return cls(by_name)

    @classmethod
    def from_descriptor_set(cls, data: bytes) -> Comments:
        """Comments of a serialized FileDescriptorSet (`protoc --include_source_info`)."""
        return cls.from_files(descriptor_pb2.FileDescriptorSet.FromString(data).file)

    @classmethod
    def from_routes(cls, routes: Iterable[Route]) -> Comments:
        """Whatever comments the loaded descriptors kept (none for protoc's Python output)."""
        files: dict[str, FileDescriptor] = {}
        for route in routes:
            file = route.method.containing_service.file
            files[file.name] = file
        return cls.from_files(
            descriptor_pb2.FileDescriptorProto.FromString(f.serialized_pb) for f in files.values()
        )


def _comment(location: descriptor_pb2.SourceCodeInfo.Location) -> str:
    text = location.leading_comments or location.trailing_comments
    lines = [line[1:] if line.startswith(" ") else line for line in text.splitlines()]
    return "\n".join(lines).strip()


def _declarations(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[tuple[int, ...], str]]:
    """(source path, full name) of every declaration of `file` (descriptor.proto's numbers)."""
    prefix = f"{file.package}." if file.package else ""
    for i, message in enumerate(file.message_type):
        yield from _message_declarations(message, (4, i), prefix)
    for i, enum in enumerate(file.enum_type):
        yield from _enum_declarations(enum, (5, i), prefix)
    for i, service in enumerate(file.service):
        name = prefix + service.name
        yield (6, i), name
        for j, method in enumerate(service.method):
            yield (6, i, 2, j), f"{name}.{method.name}"


def _message_declarations(
    message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], prefix: str
) -> Iterator[tuple[tuple[int, ...], str]]:
    name = prefix + message.name
    yield path, name
    for j, field in enumerate(message.field):
        yield (*path, 2, j), f"{name}.{field.name}"
    for j, nested in enumerate(message.nested_type):
        yield from _message_declarations(nested, (*path, 3, j), name + ".")
    for j, enum in enumerate(message.enum_type):
        yield from _enum_declarations(enum, (*path, 4, j), name + ".")


def _enum_declarations(
    enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], prefix: str
) -> Iterator[tuple[tuple[int, ...], str]]:
    name = prefix + enum.name
    yield path, name
    for j, value in enumerate(enum.value):
        # Enum values are siblings of their enum in protobuf's scoping.
        yield (*path, 2, j), f"{prefix}{value.name}"
