"""The switchboard.prompts.v1 servicer: convert the request, call the registry, convert back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from services.prompts import convert
from services.prompts.change_feed import ChangeFeed
from services.prompts.model import Change
from services.prompts.naming import check_name_prefix
from services.prompts.registry import Registry
from svckit.errors import Violations

SERVICE_NAME = "switchboard.prompts.v1.PromptService"


class PromptServicer(pb_grpc.PromptServiceServicer):
    def __init__(self, registry: Registry, feed: ChangeFeed) -> None:
        self._registry = registry
        self._feed = feed

    async def CreatePromptVersion(
        self, request: pb.CreatePromptVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePromptVersionResponse:
        created = await self._registry.create_version(convert.draft(request))
        return pb.CreatePromptVersionResponse(
            version=convert.version_message(created.version), created=created.created
        )

    async def GetPrompt(
        self, request: pb.GetPromptRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPromptResponse:
        selector = convert.selector(request.version, request.label)
        found = await self._registry.get(request.name, selector)
        return pb.GetPromptResponse(
            version=convert.version_message(found.version), label=found.label
        )

    async def ListPrompts(
        self, request: pb.ListPromptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPromptsResponse:
        page = await self._registry.list_prompts(
            convert.prompt_filter(request), request.page_size, request.page_token
        )
        return pb.ListPromptsResponse(
            prompts=[convert.prompt_message(p) for p in page.items],
            next_page_token=page.next_token,
        )

    async def ListPromptVersions(
        self, request: pb.ListPromptVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPromptVersionsResponse:
        page = await self._registry.list_versions(
            request.name, request.page_size, request.page_token
        )
        return pb.ListPromptVersionsResponse(
            versions=[convert.version_message(v) for v in page.items],
            next_page_token=page.next_token,
        )

    async def MoveLabel(
        self, request: pb.MoveLabelRequest, context: grpc.aio.ServicerContext
    ) -> pb.MoveLabelResponse:
        move = await self._registry.move_label(convert.label_request(request))
        if move is None:
            return pb.MoveLabelResponse(moved=False)
        return pb.MoveLabelResponse(moved=True, move=convert.move_message(move))

    async def DeleteLabel(
        self, request: pb.DeleteLabelRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteLabelResponse:
        move = await self._registry.delete_label(convert.label_request(request))
        return pb.DeleteLabelResponse(move=convert.move_message(move))

    async def RollbackLabel(
        self, request: pb.RollbackLabelRequest, context: grpc.aio.ServicerContext
    ) -> pb.RollbackLabelResponse:
        move = await self._registry.rollback_label(convert.label_request(request))
        return pb.RollbackLabelResponse(move=convert.move_message(move))

    async def ListLabelHistory(
        self, request: pb.ListLabelHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLabelHistoryResponse:
        page = await self._registry.label_history(
            request.name, request.label, request.page_size, request.page_token
        )
        return pb.ListLabelHistoryResponse(
            moves=[convert.move_message(m) for m in page.items], next_page_token=page.next_token
        )

    async def DiffPromptVersions(
        self, request: pb.DiffPromptVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.DiffPromptVersionsResponse:
        found = await self._registry.diff(
            request.name,
            convert.selector(request.from_version, request.from_label),
            convert.selector(request.to_version, request.to_label),
        )
        return convert.diff_message(found)

    async def RenderPrompt(
        self, request: pb.RenderPromptRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderPromptResponse:
        found, rendered = await self._registry.render(
            request.name,
            convert.selector(request.version, request.label),
            convert.as_dict(request.variables),
            convert.placeholders(request.placeholders),
        )
        return convert.render_message(rendered, found.label)

    async def WatchPromptChanges(
        self, request: pb.WatchPromptChangesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchPromptChangesResponse]:
        v = Violations()
        check_name_prefix(v, request.name_prefix)
        v.check(request.after_sequence >= 0, "after_sequence", "cannot be negative")
        v.raise_if_any()
        after = request.after_sequence
        await self._feed.poll_once()  # the first response covers every change committed before
        async with self._feed.subscribe(request.name_prefix) as subscription:
            start = subscription.position
            reset, backlog = False, list[Change]()
            if after:
                reset, backlog = await self._feed.replay(after, start, request.name_prefix)
            yield pb.WatchPromptChangesResponse(
                changes=[convert.change_message(c) for c in backlog],
                sequence=max(start, after),
                reset=reset,
            )
            async for batch in subscription:
                fresh = [c for c in batch if c.sequence > after]
                if fresh:
                    yield pb.WatchPromptChangesResponse(
                        changes=[convert.change_message(c) for c in fresh],
                        sequence=fresh[-1].sequence,
                    )
