"""Building admin requests and reading failures in the flags service's tests."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf.struct_pb2 import Struct
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from switchboard.flags.v1 import flags_service_pb2 as pb
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from services.flags.values import to_value


def flag_message(key: str, definition: dict[str, Any]) -> pb.Flag:
    """A pb.Flag from a flagd definition."""
    flag = pb.Flag(
        key=key,
        state=pb.FLAG_STATE_DISABLED
        if definition.get("state") == "DISABLED"
        else pb.FLAG_STATE_ENABLED,
        default_variant=definition.get("defaultVariant") or "",
    )
    for name, value in definition["variants"].items():
        flag.variants[name].CopyFrom(to_value(value))
    if definition.get("targeting"):
        flag.targeting.update(definition["targeting"])
    if definition.get("metadata"):
        flag.metadata.update(definition["metadata"])
    return flag


def struct(values: dict[str, Any]) -> Struct:
    message = Struct()
    message.update(values)
    return message


def details(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str]]:
    """(ErrorInfo reason, BadRequest field -> description) of a failed call."""
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    reason, fields = "", {}
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason = info.reason
        elif detail.Unpack(bad):
            fields = {v.field: v.description for v in bad.field_violations}
    return reason, fields


async def import_set(
    admin: pb_grpc.FlagsServiceStub, flag_set_id: str, document: dict[str, Any], author: str = "ann"
) -> pb.ImportFlagSetResponse:
    request = pb.ImportFlagSetRequest(
        flag_set_id=flag_set_id, flagd_json=json.dumps(document), author=author
    )
    response: pb.ImportFlagSetResponse = await admin.ImportFlagSet(request)
    return response
