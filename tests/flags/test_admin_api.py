"""The switchboard.flags.v1 admin API over gRPC, embedded (SQLite) and shared (PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.flags.v1 import flags_service_pb2 as pb

from .conftest import START, FakeClock, StartFlags
from .flag_calls import details, flag_message, import_set, struct
from .flag_data import CHECKOUT, boolean_flag, nested


async def test_import_get_export_round_trip(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        imported = await import_set(flags.admin, "checkout", CHECKOUT)
        got = await flags.admin.GetFlagSet(pb.GetFlagSetRequest(flag_set_id="checkout"))
        exported = await flags.admin.ExportFlagSet(pb.ExportFlagSetRequest(flag_set_id="checkout"))
        listed = await flags.admin.ListFlagSets(pb.ListFlagSetsRequest())

    assert imported.changed
    assert imported.revision.kind == pb.REVISION_KIND_IMPORT
    assert [f.key for f in got.flag_set.flags] == list(CHECKOUT["flags"])
    assert got.flag_set.metadata["team"] == "payments"
    assert json.loads(exported.flagd_json) == CHECKOUT
    assert exported.revision == imported.revision.revision == 1
    assert [(s.flag_set_id, s.flag_count) for s in listed.flag_sets] == [("checkout", 3)]


@pytest.mark.parametrize(
    ("document", "field", "description"),
    [
        ("{not json", "flagd_json", "is not valid JSON"),
        (json.dumps({"flags": {"f": boolean_flag(targeting={"nope": [1]})}}),
         "flags.f.targeting", "unknown operator 'nope'"),
        (json.dumps({"flags": {"f": boolean_flag(default="maybe")}}),
         "flags.f.defaultVariant", "'maybe' is not one of the variants (off, on)"),
        ("[" * 5000 + "]" * 5000, "flagd_json", "is nested more than 256 levels deep"),
        (json.dumps({"flags": {"f": {"state": "ENABLED", "variants": {"v": 2**63},
                                     "defaultVariant": "v"}}}),
         "flags.f.variants.v", "is outside the 64-bit range"),
        (json.dumps({"flags": {"f": {"state": "ENABLED", "variants": {"v": nested(33)},
                                     "defaultVariant": "v"}}}),
         "flags.f.variants.v", "is nested more than 32 levels deep"),
    ],
)  # fmt: skip
async def test_bad_documents_are_refused_with_the_reason_and_nothing_is_stored(
    start_flags: StartFlags, document: str, field: str, description: str
) -> None:
    async with start_flags() as flags:
        request = pb.ImportFlagSetRequest(flag_set_id="web", flagd_json=document, author="ann")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await flags.admin.ImportFlagSet(request)
        checked = await flags.admin.ValidateFlagSet(pb.ValidateFlagSetRequest(flagd_json=document))
        listed = await flags.admin.ListRevisions(pb.ListRevisionsRequest())
        sets = await flags.admin.ListFlagSets(pb.ListFlagSetsRequest())

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, violations = details(refused.value)
    assert reason == "INVALID_FLAG_DEFINITION"
    assert violations[field].startswith(description)
    assert not checked.valid
    assert checked.violations[0].field == field
    assert list(listed.revisions) == []
    assert list(sets.flag_sets) == []


async def test_flags_are_created_updated_and_deleted_as_revisions(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        admin = flags.admin
        await admin.CreateFlagSet(
            pb.CreateFlagSetRequest(
                flag_set_id="web",
                evaluators=struct({"beta": {"in": [{"var": "email"}, ["a@x.io"]]}}),
                metadata=struct({"team": "web"}),
                author="ann",
            )
        )
        definition = boolean_flag(targeting={"if": [{"$ref": "beta"}, "on", "off"]})
        created = await admin.CreateFlag(
            pb.CreateFlagRequest(
                flag_set_id="web", flag=flag_message("dark-mode", definition), author="ann"
            )
        )
        updated = await admin.UpdateFlag(
            pb.UpdateFlagRequest(
                flag_set_id="web", flag=flag_message("dark-mode", boolean_flag("off")),
                author="bob", message="off for everyone", expected_revision=2,
            )
        )  # fmt: skip
        same = await admin.UpdateFlag(
            pb.UpdateFlagRequest(
                flag_set_id="web", flag=flag_message("dark-mode", boolean_flag("off")), author="bob"
            )
        )
        got = await admin.GetFlag(pb.GetFlagRequest(flag_set_id="web", flag_key="dark-mode"))
        listed = await admin.ListFlags(pb.ListFlagsRequest(flag_set_id="web"))
        deleted = await admin.DeleteFlag(
            pb.DeleteFlagRequest(flag_set_id="web", flag_key="dark-mode", author="cy")
        )
        audit = await admin.ListRevisions(pb.ListRevisionsRequest(flag_set_id="web"))

    assert created.revision.revision == 2
    assert created.flag.targeting["if"][1] == "on"
    assert (updated.revision.revision, updated.changed) == (3, True)
    assert (same.revision.revision, same.changed) == (3, False)
    assert got.flag.default_variant == "off"
    assert got.revision == 3
    assert [f.key for f in listed.flags] == ["dark-mode"]
    assert deleted.revision.changes[0] == pb.FlagChange(
        flag_key="dark-mode", type=pb.CHANGE_TYPE_DELETE
    )
    assert [(r.revision, r.kind, r.author, r.message) for r in audit.revisions] == [
        (4, pb.REVISION_KIND_DELETE_FLAG, "cy", ""),
        (3, pb.REVISION_KIND_UPDATE_FLAG, "bob", "off for everyone"),
        (2, pb.REVISION_KIND_CREATE_FLAG, "ann", ""),
        (1, pb.REVISION_KIND_CREATE_SET, "ann", ""),
    ]


async def test_a_bad_flag_is_refused_with_field_violations(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await flags.admin.CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="web", author="ann"))
        bad = flag_message(
            "f", boolean_flag(default="maybe", targeting={"if": [{"$ref": "none"}, "on", "off"]})
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await flags.admin.CreateFlag(
                pb.CreateFlagRequest(flag_set_id="web", flag=bad, author="ann")
            )
        got = await flags.admin.GetFlagSet(pb.GetFlagSetRequest(flag_set_id="web"))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(refused.value)[1] == {
        "flag.defaultVariant": "'maybe' is not one of the variants (off, on)",
        "flag.targeting.if[0]": "$ref names no evaluator of this flag set: 'none'",
    }
    assert list(got.flag_set.flags) == []
    assert got.flag_set.revision == 1


@pytest.mark.parametrize(
    ("call", "code", "reason"),
    [
        (lambda a: a.GetFlagSet(pb.GetFlagSetRequest(flag_set_id="nope")),
         grpc.StatusCode.NOT_FOUND, "FLAG_SET_NOT_FOUND"),
        (lambda a: a.GetFlag(pb.GetFlagRequest(flag_set_id="checkout", flag_key="nope")),
         grpc.StatusCode.NOT_FOUND, "FLAG_NOT_FOUND"),
        (lambda a: a.GetFlagSet(pb.GetFlagSetRequest(flag_set_id="../x")),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="checkout", author="x")),
         grpc.StatusCode.ALREADY_EXISTS, "FLAG_SET_EXISTS"),
        (lambda a: a.CreateFlag(pb.CreateFlagRequest(
            flag_set_id="checkout", flag=flag_message("banner", boolean_flag()), author="x")),
         grpc.StatusCode.ALREADY_EXISTS, "FLAG_EXISTS"),
        (lambda a: a.DeleteFlag(pb.DeleteFlagRequest(flag_set_id="checkout", flag_key="banner")),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.DeleteFlagSet(pb.DeleteFlagSetRequest(
            flag_set_id="checkout", author="x", expected_revision=7)),
         grpc.StatusCode.FAILED_PRECONDITION, "REVISION_MISMATCH"),
        (lambda a: a.ListRevisions(pb.ListRevisionsRequest(page_token="zz")),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.ListRevisions(pb.ListRevisionsRequest(page_size=-1)),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.GetRevision(pb.GetRevisionRequest(revision=0)),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.GetRevision(pb.GetRevisionRequest(revision=42)),
         grpc.StatusCode.NOT_FOUND, "REVISION_NOT_FOUND"),
        (lambda a: a.UpdateFlag(pb.UpdateFlagRequest(
            flag_set_id="checkout", flag=flag_message("banner", boolean_flag()), author="x" * 201)),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (lambda a: a.UpdateFlag(pb.UpdateFlagRequest(
            flag_set_id="checkout", flag=flag_message("banner", boolean_flag()), author="x",
            message="m" * 2001)),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ],
)  # fmt: skip
async def test_refusals_carry_their_code_and_reason(
    start_flags: StartFlags, call: object, code: grpc.StatusCode, reason: str
) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(flags.admin)  # type: ignore[operator]

    assert refused.value.code() == code
    assert details(refused.value)[0] == reason


async def test_the_author_defaults_to_the_callers_api_key(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        created = await flags.admin.CreateFlagSet(
            pb.CreateFlagSetRequest(flag_set_id="web"),
            metadata=[("x-switchboard-key-id", "k-123")],
        )

    assert created.revision.author == "key:k-123"


async def test_rollback_restores_any_revision_as_a_new_one(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        admin = flags.admin
        await import_set(admin, "checkout", CHECKOUT)
        await admin.DeleteFlag(
            pb.DeleteFlagRequest(flag_set_id="checkout", flag_key="banner", author="x")
        )
        await admin.DeleteFlagSet(pb.DeleteFlagSetRequest(flag_set_id="checkout", author="x"))
        with pytest.raises(grpc.aio.AioRpcError) as deleted_revision:
            await admin.RollbackFlagSet(
                pb.RollbackFlagSetRequest(flag_set_id="checkout", revision=3, author="x")
            )
        with pytest.raises(grpc.aio.AioRpcError) as other_set:
            await admin.RollbackFlagSet(
                pb.RollbackFlagSetRequest(flag_set_id="web", revision=1, author="x")
            )

        restored = await admin.RollbackFlagSet(
            pb.RollbackFlagSetRequest(flag_set_id="checkout", revision=1, author="ann")
        )
        again = await admin.RollbackFlagSet(
            pb.RollbackFlagSetRequest(flag_set_id="checkout", revision=1, author="ann")
        )
        older = await admin.GetRevision(pb.GetRevisionRequest(revision=2))

    assert deleted_revision.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert other_set.value.code() == grpc.StatusCode.NOT_FOUND
    assert restored.changed
    assert restored.revision.revision == 4
    assert restored.revision.kind == pb.REVISION_KIND_ROLLBACK
    assert restored.revision.message == "rollback to revision 1"
    assert [f.key for f in restored.flag_set.flags] == list(CHECKOUT["flags"])
    assert not again.changed
    assert again.revision.revision == 4
    assert "banner" not in json.loads(older.flagd_json)["flags"]


async def test_revisions_page_through_the_audit_list(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await flags.admin.CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="web", author="ann"))
        for i in range(4):
            flag = flag_message(f"f{i}", boolean_flag())
            await flags.admin.CreateFlag(
                pb.CreateFlagRequest(flag_set_id="web", flag=flag, author="ann")
            )
        first = await flags.admin.ListRevisions(pb.ListRevisionsRequest(page_size=3))
        second = await flags.admin.ListRevisions(
            pb.ListRevisionsRequest(page_size=3, page_token=first.next_page_token)
        )

    assert [r.revision for r in first.revisions] == [5, 4, 3]
    assert first.next_page_token == "3"
    assert [r.revision for r in second.revisions] == [2, 1]
    assert second.next_page_token == ""


@pytest.mark.parametrize("token", ["²", "x1", "9" * 20, "9223372036854775808", "9" * 5000])
async def test_a_page_token_not_from_a_previous_page_is_refused(
    start_flags: StartFlags, token: str
) -> None:
    async with start_flags() as flags:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await flags.admin.ListRevisions(pb.ListRevisionsRequest(page_token=token))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(refused.value)[1] == {"page_token": "is not a token from a previous page"}


async def test_the_kill_switch_disables_and_reenables_a_flag(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        request = {
            "flag_set_id": "checkout",
            "flag_key": "banner",
            "author": "oncall",
            "message": "incident 42",
        }
        disabled = await flags.admin.DisableFlag(pb.DisableFlagRequest(**request))
        twice = await flags.admin.DisableFlag(pb.DisableFlagRequest(**request))
        enabled = await flags.admin.EnableFlag(pb.EnableFlagRequest(**request))

    assert disabled.changed
    assert disabled.flag.state == pb.FLAG_STATE_DISABLED
    assert disabled.revision.kind == pb.REVISION_KIND_DISABLE_FLAG
    assert disabled.revision.message == "incident 42"
    assert not twice.changed
    assert enabled.flag.state == pb.FLAG_STATE_ENABLED
    assert enabled.revision.revision == 3


async def test_rollouts_through_the_api(start_flags: StartFlags, clock: FakeClock) -> None:
    steps = [
        pb.RolloutStep(weights={"small": 90, "large": 10}, wait=Duration(seconds=0)),
        pb.RolloutStep(weights={"small": 50, "large": 50}, wait=Duration(seconds=600)),
    ]
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        started = await flags.admin.StartRollout(
            pb.StartRolloutRequest(
                flag_set_id="checkout", flag_key="model-experiment", steps=steps, author="ann"
            )
        )
        rollout_id = started.rollout.rollout_id
        paused = await flags.admin.PauseRollout(pb.PauseRolloutRequest(rollout_id=rollout_id))
        resumed = await flags.admin.ResumeRollout(pb.ResumeRolloutRequest(rollout_id=rollout_id))
        clock.advance(600)
        await flags.service.rollouts.advance()
        done = await flags.admin.GetRollout(pb.GetRolloutRequest(rollout_id=rollout_id))
        listed = await flags.admin.ListRollouts(pb.ListRolloutsRequest(flag_set_id="checkout"))
        flag = await flags.admin.GetFlag(
            pb.GetFlagRequest(flag_set_id="checkout", flag_key="model-experiment")
        )
        with pytest.raises(grpc.aio.AioRpcError) as finished:
            await flags.admin.CancelRollout(pb.CancelRolloutRequest(rollout_id=rollout_id))
        with pytest.raises(grpc.aio.AioRpcError) as bad_key:
            await flags.admin.StartRollout(
                pb.StartRolloutRequest(flag_set_id="checkout", flag_key="", author="a")
            )

    assert started.rollout.state == pb.ROLLOUT_STATE_RUNNING
    assert started.rollout.applied_steps == 1
    assert started.rollout.next_step_time.ToDatetime(tzinfo=UTC) == datetime.fromtimestamp(
        START + 600, UTC
    )
    assert paused.rollout.state == pb.ROLLOUT_STATE_PAUSED
    assert paused.rollout.remaining_wait.ToTimedelta() == timedelta(seconds=600)
    assert resumed.rollout.state == pb.ROLLOUT_STATE_RUNNING
    assert done.rollout.state == pb.ROLLOUT_STATE_COMPLETED
    assert len(done.rollout.revisions) == 2
    assert [r.rollout_id for r in listed.rollouts] == [rollout_id]
    assert flag.flag.targeting["fractional"][1][1] == 50
    assert finished.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert bad_key.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert flags.metric("flags_rollout_steps_total") == 2


async def test_exposures_are_counted_per_variant_and_day(
    start_flags: StartFlags, clock: FakeClock
) -> None:
    async with start_flags() as flags:
        record = pb.RecordExposuresRequest(
            exposures=[
                pb.Exposure(flag_key="model-experiment", variant="small", count=3),
                pb.Exposure(flag_key="model-experiment", variant="large", count=2),
                pb.Exposure(flag_key="model-experiment", variant="small", count=1),
            ]
        )
        await flags.admin.RecordExposures(record)
        clock.advance(86400)
        await flags.admin.RecordExposures(record)
        total = await flags.admin.GetExposures(pb.GetExposuresRequest(flag_key="model-experiment"))
        since = Timestamp()
        since.FromDatetime(datetime.fromtimestamp(clock.now, UTC))
        today = await flags.admin.GetExposures(
            pb.GetExposuresRequest(flag_key="model-experiment", start_time=since)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await flags.admin.RecordExposures(
                pb.RecordExposuresRequest(exposures=[pb.Exposure(flag_key="", variant="", count=0)])
            )
        with pytest.raises(grpc.aio.AioRpcError) as bad_key:
            await flags.admin.GetExposures(pb.GetExposuresRequest(flag_key="no such key"))

    assert {e.variant: e.count for e in total.exposures} == {"small": 8, "large": 4}
    assert {e.variant: e.count for e in today.exposures} == {"small": 4, "large": 2}
    assert set(details(refused.value)[1]) == {
        "exposures[0].flag_key", "exposures[0].variant", "exposures[0].count",
    }  # fmt: skip
    assert bad_key.value.code() == grpc.StatusCode.INVALID_ARGUMENT
