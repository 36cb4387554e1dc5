"""flagd's `flagd.sync.v1.FlagSyncService`, what the OpenFeature flagd provider's in-process
mode calls: it evaluates locally with the flags this service streams.

- SyncFlags: the selected flags at once, then a full snapshot on every change it can see,
  each message with `sync_context` = the static context (`FLAGS_STATIC_CONTEXT`), which the
  provider merges into every evaluation.
- FetchAllFlags: the same payload, once.
- GetMetadata (deprecated upstream): `{metadata: static context}`; UNIMPLEMENTED when
  `FLAGS_SYNC_METADATA_DISABLED` (as flagd's `--disable-sync-metadata`), which the provider
  ignores, taking the context from `sync_context` instead.

The selector is the `flagd-selector` header, else the deprecated `selector` field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2 as pb
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2_grpc as pb_grpc

from services.flags.selector import selector_from
from services.flags.state import FlagState
from services.flags.streams import flag_snapshots
from services.flags.values import to_struct
from svckit.errors import ServiceError

SERVICE_NAME = "flagd.sync.v1.FlagSyncService"


class MetadataDisabled(ServiceError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "SYNC_METADATA_DISABLED"


class SyncServicer(pb_grpc.FlagSyncServiceServicer):
    def __init__(
        self, state: FlagState, static_context: Mapping[str, Any], *, metadata_disabled: bool
    ) -> None:
        self._state = state
        self._context = to_struct(static_context)
        self._metadata_disabled = metadata_disabled

    async def SyncFlags(
        self, request: pb.SyncFlagsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SyncFlagsResponse]:
        selector = selector_from(context.invocation_metadata(), request.selector)
        async for payload in flag_snapshots(self._state, selector):
            yield pb.SyncFlagsResponse(flag_configuration=payload, sync_context=self._context)

    async def FetchAllFlags(
        self, request: pb.FetchAllFlagsRequest, context: grpc.aio.ServicerContext
    ) -> pb.FetchAllFlagsResponse:
        selector = selector_from(context.invocation_metadata(), request.selector)
        payload = self._state.snapshot.view(selector).payload
        return pb.FetchAllFlagsResponse(flag_configuration=payload)

    async def GetMetadata(
        self, request: pb.GetMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMetadataResponse:
        if self._metadata_disabled:
            raise MetadataDisabled("metadata endpoint disabled")
        return pb.GetMetadataResponse(metadata=self._context)


__all__ = ["SERVICE_NAME", "SyncServicer"]
