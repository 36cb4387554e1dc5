"""The switchboard.flags.v1 servicer: convert, call one domain operation, convert back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

import grpc
from switchboard.flags.v1 import flags_service_pb2 as pb
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from services.flags import convert
from services.flags.admin import FlagAdmin
from services.flags.exposures import Exposure, ExposureCounts, check_exposures
from services.flags.revision import Authorship, WriteResult
from services.flags.rollouts import Rollouts
from services.flags.validation import FLAG_KEY, check_flag_set_id
from services.flags.values import from_struct
from svckit.errors import InvalidArgument

SERVICE_NAME = "switchboard.flags.v1.FlagsService"
KEY_METADATA = "x-switchboard-key-id"
"""The caller's API key id, forwarded by the gateway: the author of a change that names none."""
MAX_AUTHOR = 200
MAX_MESSAGE = 2000
EXPOSURE_DAYS = 30


@dataclass(frozen=True)
class FlagsParts:
    """The domain objects the RPCs call."""

    admin: FlagAdmin
    rollouts: Rollouts
    exposures: ExposureCounts


class FlagsServicer(pb_grpc.FlagsServiceServicer):
    def __init__(self, parts: FlagsParts) -> None:
        self._admin = parts.admin
        self._rollouts = parts.rollouts
        self._exposures = parts.exposures

    async def ListFlagSets(
        self, request: pb.ListFlagSetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFlagSetsResponse:
        sets = await self._admin.list_sets()
        return pb.ListFlagSetsResponse(flag_sets=[convert.summary_message(s) for s in sets])

    async def GetFlagSet(
        self, request: pb.GetFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFlagSetResponse:
        stored = await self._admin.get_set(request.flag_set_id)
        return pb.GetFlagSetResponse(flag_set=convert.flag_set_message(stored))

    async def CreateFlagSet(
        self, request: pb.CreateFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateFlagSetResponse:
        result = await self._admin.create_set(
            request.flag_set_id,
            from_struct(request.evaluators),
            from_struct(request.metadata),
            authorship(request.author, request.message, context),
        )
        assert result.stored is not None
        return pb.CreateFlagSetResponse(
            flag_set=convert.flag_set_message(result.stored),
            revision=convert.revision_message(result.revision),
        )

    async def DeleteFlagSet(
        self, request: pb.DeleteFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteFlagSetResponse:
        by = authorship(request.author, request.message, context)
        result = await self._admin.delete_set(request.flag_set_id, by, request.expected_revision)
        return pb.DeleteFlagSetResponse(revision=convert.revision_message(result.revision))

    async def ListFlags(
        self, request: pb.ListFlagsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFlagsResponse:
        stored = await self._admin.get_set(request.flag_set_id)
        flags = [convert.flag_message(k, d) for k, d in stored.document.flags.items()]
        return pb.ListFlagsResponse(flags=flags, revision=stored.revision)

    async def GetFlag(
        self, request: pb.GetFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFlagResponse:
        definition, revision = await self._admin.get_flag(request.flag_set_id, request.flag_key)
        flag = convert.flag_message(request.flag_key, definition)
        return pb.GetFlagResponse(flag=flag, revision=revision)

    async def CreateFlag(
        self, request: pb.CreateFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateFlagResponse:
        key = request.flag.key
        result = await self._admin.create_flag(
            request.flag_set_id,
            key,
            convert.flag_definition(request.flag),
            authorship(request.author, request.message, context),
            request.expected_revision,
        )
        return pb.CreateFlagResponse(
            flag=_flag_of(result, key), revision=convert.revision_message(result.revision)
        )

    async def UpdateFlag(
        self, request: pb.UpdateFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateFlagResponse:
        key = request.flag.key
        result = await self._admin.update_flag(
            request.flag_set_id,
            key,
            convert.flag_definition(request.flag),
            authorship(request.author, request.message, context),
            request.expected_revision,
        )
        return pb.UpdateFlagResponse(
            flag=_flag_of(result, key),
            revision=convert.revision_message(result.revision),
            changed=result.changed,
        )

    async def DeleteFlag(
        self, request: pb.DeleteFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteFlagResponse:
        result = await self._admin.delete_flag(
            request.flag_set_id,
            request.flag_key,
            authorship(request.author, request.message, context),
            request.expected_revision,
        )
        return pb.DeleteFlagResponse(revision=convert.revision_message(result.revision))

    async def DisableFlag(
        self, request: pb.DisableFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.DisableFlagResponse:
        by = authorship(request.author, request.message, context)
        result = await self._admin.set_enabled(request.flag_set_id, request.flag_key, False, by)
        return pb.DisableFlagResponse(
            flag=_flag_of(result, request.flag_key),
            revision=convert.revision_message(result.revision),
            changed=result.changed,
        )

    async def EnableFlag(
        self, request: pb.EnableFlagRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnableFlagResponse:
        by = authorship(request.author, request.message, context)
        result = await self._admin.set_enabled(request.flag_set_id, request.flag_key, True, by)
        return pb.EnableFlagResponse(
            flag=_flag_of(result, request.flag_key),
            revision=convert.revision_message(result.revision),
            changed=result.changed,
        )

    async def ValidateFlagSet(
        self, request: pb.ValidateFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateFlagSetResponse:
        refused = self._admin.validate(request.flagd_json).refusals(strict=True)
        return pb.ValidateFlagSetResponse(
            valid=not refused,
            violations=[pb.Violation(field=v.field, description=v.description) for v in refused],
        )

    async def ImportFlagSet(
        self, request: pb.ImportFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportFlagSetResponse:
        result = await self._admin.import_set(
            request.flag_set_id,
            request.flagd_json,
            authorship(request.author, request.message, context),
            request.expected_revision,
        )
        assert result.stored is not None
        return pb.ImportFlagSetResponse(
            flag_set=convert.flag_set_message(result.stored),
            revision=convert.revision_message(result.revision),
            changed=result.changed,
        )

    async def ExportFlagSet(
        self, request: pb.ExportFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportFlagSetResponse:
        flagd_json, revision = await self._admin.export_set(request.flag_set_id)
        return pb.ExportFlagSetResponse(flagd_json=flagd_json, revision=revision)

    async def ListRevisions(
        self, request: pb.ListRevisionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRevisionsResponse:
        page = await self._admin.revisions(
            request.flag_set_id, request.page_size, request.page_token
        )
        return pb.ListRevisionsResponse(
            revisions=[convert.revision_message(r) for r in page.revisions],
            next_page_token=page.next_page_token,
        )

    async def GetRevision(
        self, request: pb.GetRevisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRevisionResponse:
        revision = await self._admin.revision(request.revision)
        document = revision.document.dumps(indent=2) if revision.document else ""
        return pb.GetRevisionResponse(
            revision=convert.revision_message(revision), flagd_json=document
        )

    async def RollbackFlagSet(
        self, request: pb.RollbackFlagSetRequest, context: grpc.aio.ServicerContext
    ) -> pb.RollbackFlagSetResponse:
        by = authorship(request.author, request.message, context)
        result = await self._admin.rollback(request.flag_set_id, request.revision, by)
        assert result.stored is not None
        return pb.RollbackFlagSetResponse(
            flag_set=convert.flag_set_message(result.stored),
            revision=convert.revision_message(result.revision),
            changed=result.changed,
        )

    async def StartRollout(
        self, request: pb.StartRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartRolloutResponse:
        check_flag_set_id(request.flag_set_id)
        _check_flag_key(request.flag_key)
        rollout = await self._rollouts.start(
            request.flag_set_id,
            request.flag_key,
            convert.steps_from(request.steps),
            authorship(request.author, request.message, context),
        )
        return pb.StartRolloutResponse(rollout=convert.rollout_message(rollout))

    async def GetRollout(
        self, request: pb.GetRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRolloutResponse:
        rollout = await self._rollouts.get(request.rollout_id)
        return pb.GetRolloutResponse(rollout=convert.rollout_message(rollout))

    async def ListRollouts(
        self, request: pb.ListRolloutsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRolloutsResponse:
        found = await self._rollouts.list_rollouts(request.flag_set_id)
        return pb.ListRolloutsResponse(rollouts=[convert.rollout_message(r) for r in found])

    async def PauseRollout(
        self, request: pb.PauseRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.PauseRolloutResponse:
        rollout = await self._rollouts.pause(request.rollout_id)
        return pb.PauseRolloutResponse(rollout=convert.rollout_message(rollout))

    async def ResumeRollout(
        self, request: pb.ResumeRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResumeRolloutResponse:
        rollout = await self._rollouts.resume(request.rollout_id)
        return pb.ResumeRolloutResponse(rollout=convert.rollout_message(rollout))

    async def CancelRollout(
        self, request: pb.CancelRolloutRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelRolloutResponse:
        rollout = await self._rollouts.cancel(request.rollout_id)
        return pb.CancelRolloutResponse(rollout=convert.rollout_message(rollout))

    async def RecordExposures(
        self, request: pb.RecordExposuresRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordExposuresResponse:
        items = [Exposure(e.flag_key, e.variant, e.count) for e in request.exposures]
        check_exposures(items)
        await self._exposures.record(items)
        return pb.RecordExposuresResponse()

    async def GetExposures(
        self, request: pb.GetExposuresRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetExposuresResponse:
        _check_flag_key(request.flag_key)
        if request.HasField("start_time"):
            since = request.start_time.ToDatetime(tzinfo=UTC).date()
        else:
            since = self._exposures.today() - timedelta(days=EXPOSURE_DAYS)
        totals = await self._exposures.totals(request.flag_key, since)
        return pb.GetExposuresResponse(
            exposures=[
                pb.Exposure(flag_key=request.flag_key, variant=v, count=c)
                for v, c in totals.items()
            ]
        )


def authorship(author: str, message: str, context: grpc.aio.ServicerContext) -> Authorship:
    """Who makes a change: `author`, else the API key the gateway forwarded."""
    if not author:
        for key, value in context.invocation_metadata() or ():
            if key == KEY_METADATA and isinstance(value, str) and value:
                author = f"key:{value}"[:MAX_AUTHOR]
    if not author:
        raise InvalidArgument.field("author", "is required (who makes the change)")
    if len(author) > MAX_AUTHOR:
        raise InvalidArgument.field("author", f"must be at most {MAX_AUTHOR} characters")
    if len(message) > MAX_MESSAGE:
        raise InvalidArgument.field("message", f"must be at most {MAX_MESSAGE} characters")
    return Authorship(author, message)


def _check_flag_key(key: str) -> None:
    if not FLAG_KEY.match(key):
        raise InvalidArgument.field("flag_key", "is not a flag key")


def _flag_of(result: WriteResult, key: str) -> pb.Flag:
    assert result.stored is not None
    definition = result.stored.document.flag(key)
    assert definition is not None
    return convert.flag_message(key, definition)


__all__ = ["SERVICE_NAME", "FlagsParts", "FlagsServicer", "authorship"]
