"""Building requests and reading answers in the prompt registry's tests."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from switchboard.prompts.v1 import prompts_pb2 as res
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def text_version(name: str, text: str, **fields: Any) -> pb.CreatePromptVersionRequest:
    config = fields.pop("config", None)
    request = pb.CreatePromptVersionRequest(name=name, text=text, **fields)
    if config is not None:
        request.config.CopyFrom(struct(config))
    return request


def chat_version(
    name: str, messages: list[tuple[str, str]], **fields: Any
) -> pb.CreatePromptVersionRequest:
    """`messages`: (role, content) pairs; role "placeholder" makes a placeholder named content."""
    entries = [
        res.ChatTemplateMessage(placeholder=content)
        if role == "placeholder"
        else res.ChatTemplateMessage(role=role, content=content)
        for role, content in messages
    ]
    config = fields.pop("config", None)
    request = pb.CreatePromptVersionRequest(name=name, messages=entries, **fields)
    if config is not None:
        request.config.CopyFrom(struct(config))
    return request


async def create(
    stub: pb_grpc.PromptServiceStub, name: str, text: str, **fields: Any
) -> res.PromptVersion:
    reply = await stub.CreatePromptVersion(text_version(name, text, **fields))
    version: res.PromptVersion = reply.version
    return version


def details(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], dict[str, str]]:
    """(ErrorInfo reason, its metadata, field -> description of the BadRequest)."""
    status = rpc_status.from_call(error)
    assert status is not None
    reason, metadata, fields = "", {}, {}
    for detail in status.details:
        info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad):
            fields = {v.field: v.description for v in bad.field_violations}
    return reason, metadata, fields
