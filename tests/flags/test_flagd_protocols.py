"""flagd's protocols on the service's port, called with the provider wheel's own stubs:
evaluation v2 and v1 (ResolveAll), EventStream, and sync (SyncFlags, FetchAllFlags,
GetMetadata), with flagd's answers, selectors and static context."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2 as v1
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2 as v2
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2
from switchboard.flags.v1 import flags_service_pb2 as pb

from services.flags import edits
from services.flags.document import FlagSetDocument
from services.flags.revision import Authorship, RevisionKind

from .conftest import RunningFlags, StartFlags
from .flag_calls import flag_message, import_set, struct
from .flag_data import CHECKOUT, boolean_flag, nested

WAIT = 10.0
BASICS: dict[str, Any] = {
    "flags": {
        "bool": boolean_flag(),
        "zero-string": {
            "state": "ENABLED",
            "variants": {"zero": "", "x": "x"},
            "defaultVariant": "zero",
        },
        "zero-int": {
            "state": "ENABLED",
            "variants": {"zero": 0, "one": 1},
            "defaultVariant": "zero",
        },
        "float": {"state": "ENABLED", "variants": {"half": 0.5}, "defaultVariant": "half"},
        "object": {
            "state": "ENABLED",
            "variants": {"template": {"title": "hi", "count": 100}, "empty": {}},
            "defaultVariant": "template",
            "targeting": {"if": [{"==": [{"var": "empty"}, True]}, "empty", None]},
        },
        "disabled": {**boolean_flag(), "state": "DISABLED"},
        "no-default": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": None},
        "broken": {**boolean_flag(), "targeting": {"nope": []}},
        "ghost": {**boolean_flag(), "targeting": {"if": [True, "zzz", "on"]}},
        "network": {
            "state": "ENABLED",
            "variants": {"internal": "INTERNAL", "external": "EXTERNAL"},
            "defaultVariant": "external",
            "targeting": {"if": [{"==": [{"var": "injected"}, "set"]}, "internal", None]},
        },
        "age": {
            "state": "ENABLED",
            "variants": {"adult": "adult", "minor": "minor"},
            "defaultVariant": "minor",
            "targeting": {"if": [{"==": [{"cat": [{"var": "age"}]}, "29"]}, "adult", None]},
        },
    },
    "metadata": {"flagSetId": "basics", "version": 2},
}


async def serve_basics(flags: RunningFlags) -> None:
    """Loaded as a file would be: its broken targeting is flagd's business at evaluation."""
    document = FlagSetDocument.from_json(BASICS)
    await flags.service.store.write(
        "basics", edits.replace(document), kind=RevisionKind.SOURCE_FILE, by=Authorship("test")
    )


async def test_v2_answers_values_variants_reasons_and_metadata(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        boolean = await flags.v2.ResolveBoolean(v2.ResolveBooleanRequest(flag_key="bool"))
        zero_string = await flags.v2.ResolveString(v2.ResolveStringRequest(flag_key="zero-string"))
        zero_int = await flags.v2.ResolveInt(v2.ResolveIntRequest(flag_key="zero-int"))
        number = await flags.v2.ResolveFloat(v2.ResolveFloatRequest(flag_key="float"))
        obj = await flags.v2.ResolveObject(v2.ResolveObjectRequest(flag_key="object"))
        empty = await flags.v2.ResolveObject(
            v2.ResolveObjectRequest(flag_key="object", context=struct({"empty": True}))
        )

    assert (boolean.value, boolean.variant, boolean.reason) == (True, "on", "STATIC")
    assert MessageToDict(boolean.metadata) == {"flagSetId": "basics", "version": 2.0}
    assert zero_string.HasField("value")
    assert zero_string.value == ""
    assert zero_string.variant == "zero"
    assert zero_int.HasField("value")
    assert zero_int.value == 0
    assert number.value == 0.5
    assert MessageToDict(obj.value) == {"title": "hi", "count": 100.0}
    assert empty.HasField("value")
    assert MessageToDict(empty.value) == {}
    assert empty.reason == "TARGETING_MATCH"


async def test_v2_leaves_value_and_variant_unset_when_there_is_none(
    start_flags: StartFlags,
) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        disabled = await flags.v2.ResolveBoolean(v2.ResolveBooleanRequest(flag_key="disabled"))
        no_default = await flags.v2.ResolveString(v2.ResolveStringRequest(flag_key="no-default"))

    assert disabled.reason == "DISABLED"
    assert not disabled.HasField("value")
    assert not disabled.HasField("variant")
    assert no_default.reason == "DEFAULT"
    assert not no_default.HasField("value")
    assert not no_default.HasField("variant")


@pytest.mark.parametrize(
    ("key", "method", "code"),
    [
        ("missing", "ResolveBoolean", grpc.StatusCode.NOT_FOUND),
        ("bool", "ResolveString", grpc.StatusCode.INVALID_ARGUMENT),
        ("broken", "ResolveBoolean", grpc.StatusCode.DATA_LOSS),
        ("ghost", "ResolveBoolean", grpc.StatusCode.UNKNOWN),
    ],
)
async def test_v2_errors_are_flagds_status_codes(
    start_flags: StartFlags, key: str, method: str, code: grpc.StatusCode
) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        request = getattr(v2, f"{method}Request")(flag_key=key)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await getattr(flags.v2, method)(request)
        errors = flags.metric("flags_evaluation_errors_total", error=_reason(code))

    assert failed.value.code() == code
    assert errors == 1


def _reason(code: grpc.StatusCode) -> str:
    return {
        grpc.StatusCode.NOT_FOUND: "FLAG_NOT_FOUND",
        grpc.StatusCode.INVALID_ARGUMENT: "TYPE_MISMATCH",
        grpc.StatusCode.DATA_LOSS: "PARSE_ERROR",
        grpc.StatusCode.UNKNOWN: "GENERAL",
    }[code]


async def test_static_context_and_whole_numbers_in_the_context(start_flags: StartFlags) -> None:
    async with start_flags(static_context={"injected": "set"}) as flags:
        await serve_basics(flags)
        network = await flags.v2.ResolveString(
            v2.ResolveStringRequest(flag_key="network", context=struct({"injected": "no"}))
        )
        # Struct carries 29 as 29.0: the service makes it 29 again, so `cat` gives "29".
        age = await flags.v2.ResolveString(
            v2.ResolveStringRequest(flag_key="age", context=struct({"age": 29}))
        )

    assert (network.value, network.reason) == ("INTERNAL", "TARGETING_MATCH")
    assert (age.value, age.reason) == ("adult", "TARGETING_MATCH")


async def test_selectors_scope_evaluations_and_bad_ones_are_refused(
    start_flags: StartFlags,
) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        await import_set(flags.admin, "checkout", CHECKOUT)
        request = v2.ResolveBooleanRequest(flag_key="bool")
        scoped = await flags.v2.ResolveBoolean(request, metadata=[("flagd-selector", "basics")])
        by_id = await flags.v2.ResolveString(
            v2.ResolveStringRequest(flag_key="banner"),
            metadata=[("flagd-selector", "flagSetId=checkout")],
        )
        with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
            await flags.v2.ResolveBoolean(request, metadata=[("flagd-selector", "checkout")])
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await flags.v2.ResolveBoolean(request, metadata=[("flagd-selector", "owner=me")])

    assert scoped.value is True
    assert by_id.value == "#f00"
    assert elsewhere.value.code() == grpc.StatusCode.NOT_FOUND
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_v1_keeps_flagds_older_answers(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        disabled = await flags.v1.ResolveBoolean(v1.ResolveBooleanRequest(flag_key="disabled"))
        number = await flags.v1.ResolveInt(v1.ResolveIntRequest(flag_key="zero-int"))
        floating = await flags.v1.ResolveFloat(v1.ResolveFloatRequest(flag_key="float"))
        text = await flags.v1.ResolveString(v1.ResolveStringRequest(flag_key="zero-string"))
        obj = await flags.v1.ResolveObject(v1.ResolveObjectRequest(flag_key="object"))
        with pytest.raises(grpc.aio.AioRpcError) as no_default:
            await flags.v1.ResolveString(v1.ResolveStringRequest(flag_key="no-default"))

    assert (disabled.value, disabled.variant, disabled.reason) == (False, "", "DISABLED")
    assert (number.value, number.variant) == (0, "zero")
    assert floating.value == 0.5
    assert text.variant == "zero"
    assert MessageToDict(obj.value)["title"] == "hi"
    assert no_default.value.code() == grpc.StatusCode.NOT_FOUND


async def test_resolve_all_lists_every_enabled_flag_with_a_default(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await serve_basics(flags)
        answer = await flags.v1.ResolveAll(
            v1.ResolveAllRequest(context=struct({"empty": True})),
            metadata=[("flagd-selector", "basics")],
        )

    listed = answer.flags
    assert "no-default" not in listed
    assert "disabled" not in listed  # as flagd's ResolveAllValues
    assert (listed["bool"].bool_value, listed["bool"].variant, listed["bool"].reason) == (
        True,
        "on",
        "STATIC",
    )
    assert listed["zero-int"].double_value == 0
    assert listed["zero-string"].string_value == ""
    assert MessageToDict(listed["object"].object_value) == {}
    assert listed["broken"].reason == "ERROR"
    assert listed["broken"].bool_value is False
    assert MessageToDict(listed["bool"].metadata) == {"flagSetId": "basics", "version": 2.0}
    assert MessageToDict(answer.metadata) == {"flagSetId": "basics", "version": 2.0}


async def test_an_imported_file_with_whole_number_floats_answers_integers_and_splits(
    start_flags: StartFlags,
) -> None:
    text = json.dumps({"flags": {
        "limit": {"state": "ENABLED", "variants": {"ten": 10.0}, "defaultVariant": "ten"},
        "exp": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
                "targeting": {"fractional": [["a", 50.0], ["b", 50.0]]}},
    }})  # fmt: skip
    async with start_flags() as flags:
        await flags.admin.ImportFlagSet(
            pb.ImportFlagSetRequest(flag_set_id="file", flagd_json=text, author="ann")
        )
        limit = await flags.v2.ResolveInt(v2.ResolveIntRequest(flag_key="limit"))
        variants = set()
        for i in range(30):
            context = struct({"targetingKey": f"user-{i}"})
            split = await flags.v2.ResolveString(
                v2.ResolveStringRequest(flag_key="exp", context=context)
            )
            variants.add((split.variant, split.reason))

    assert (limit.value, limit.variant, limit.reason) == (10, "ten", "STATIC")
    assert variants == {("a", "TARGETING_MATCH"), ("b", "TARGETING_MATCH")}


async def test_the_deepest_object_variant_allowed_reaches_every_client(
    start_flags: StartFlags,
) -> None:
    deepest = nested(32)
    document = {"flags": {"deep": {"state": "ENABLED", "variants": {"v": deepest},
                                   "defaultVariant": "v"}}}  # fmt: skip
    async with start_flags() as flags:
        await import_set(flags.admin, "deep", document)
        single = await flags.v2.ResolveObject(v2.ResolveObjectRequest(flag_key="deep"))
        every = await flags.v1.ResolveAll(v1.ResolveAllRequest())
        stored = await flags.admin.GetFlagSet(pb.GetFlagSetRequest(flag_set_id="deep"))

    assert MessageToDict(single.value) == MessageToDict(every.flags["deep"].object_value)
    assert MessageToDict(stored.flag_set.flags[0].variants["v"]) == MessageToDict(single.value)
    assert json.dumps(MessageToDict(single.value)).count("{") == 32


async def test_an_edit_from_numbers_to_booleans_reaches_both_streams(
    start_flags: StartFlags,
) -> None:
    numbers = {"state": "ENABLED", "variants": {"on": 1, "off": 0}, "defaultVariant": "on"}
    booleans = {**numbers, "variants": {"on": True, "off": False}}
    async with start_flags() as flags:
        await import_set(flags.admin, "web", {"flags": {"beta": numbers}})
        events = flags.v2.EventStream(v2.EventStreamRequest())
        snapshots = flags.sync.SyncFlags(sync_pb2.SyncFlagsRequest())
        await next_message(events)
        await next_message(snapshots)
        edited = await flags.admin.UpdateFlag(
            pb.UpdateFlagRequest(flag_set_id="web", flag=flag_message("beta", booleans), author="a")
        )
        event = await next_message(events)
        snapshot = await next_message(snapshots)
        events.cancel()
        snapshots.cancel()

    assert edited.changed
    assert MessageToDict(event.data) == {"flags": {"beta": {"type": "update"}}}
    assert json.loads(snapshot.flag_configuration)["flags"]["beta"]["variants"] == {
        "on": True,
        "off": False,
    }


async def next_message(stream: Any) -> Any:
    async with asyncio.timeout(WAIT):
        return await stream.read()


async def test_event_stream_sends_ready_then_each_change(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        stream = flags.v2.EventStream(v2.EventStreamRequest())
        ready = await next_message(stream)
        flag = flag_message("banner", {**CHECKOUT["flags"]["banner"], "defaultVariant": "blue"})
        await flags.admin.UpdateFlag(
            pb.UpdateFlagRequest(flag_set_id="checkout", flag=flag, author="a")
        )
        changed = await next_message(stream)
        await flags.admin.CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="empty", author="a"))
        await flags.admin.DeleteFlag(
            pb.DeleteFlagRequest(flag_set_id="checkout", flag_key="banner", author="a")
        )
        deleted = await next_message(stream)
        stream.cancel()

    assert ready.type == "provider_ready"
    assert changed.type == "configuration_change"
    assert MessageToDict(changed.data) == {"flags": {"banner": {"type": "update"}}}
    # The empty set changed nothing visible: no event for it.
    assert MessageToDict(deleted.data) == {"flags": {"banner": {"type": "delete"}}}


async def test_event_stream_keeps_alive_and_ends_with_the_server(start_flags: StartFlags) -> None:
    async with start_flags(keepalive_seconds=0.05) as flags:
        stream = flags.v1.EventStream(v1.EventStreamRequest())
        ready = await next_message(stream)
        alive = await next_message(stream)
        await flags.server.stop(grace=WAIT)  # drains: streams are told, and end
        last = await next_message(stream)
        end = await next_message(stream)

    assert (ready.type, alive.type, last.type) == (
        "provider_ready",
        "keep_alive",
        "provider_shutdown",
    )
    assert end is grpc.aio.EOF


async def test_sync_streams_full_snapshots_of_what_the_selector_sees(
    start_flags: StartFlags,
) -> None:
    async with start_flags(static_context={"injectedmetadata": "set"}) as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        stream = flags.sync.SyncFlags(
            sync_pb2.SyncFlagsRequest(provider_id="test", selector="ignored"),
            metadata=[("flagd-selector", "source=checkout")],
        )
        first = await next_message(stream)
        await flags.admin.CreateFlagSet(pb.CreateFlagSetRequest(flag_set_id="other", author="a"))
        await flags.admin.DisableFlag(
            pb.DisableFlagRequest(flag_set_id="checkout", flag_key="banner", author="a")
        )
        second = await next_message(stream)
        stream.cancel()

    payload = json.loads(first.flag_configuration)
    assert list(payload) == ["flags"]
    assert set(payload["flags"]) == set(CHECKOUT["flags"])
    assert (
        payload["flags"]["new-checkout"]["targeting"]["if"][0]
        == CHECKOUT["$evaluators"]["is_staff"]
    )
    assert MessageToDict(first.sync_context) == {"injectedmetadata": "set"}
    assert json.loads(second.flag_configuration)["flags"]["banner"]["state"] == "DISABLED"


async def test_sync_selector_from_the_request_field_and_fetch_all(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        await import_set(flags.admin, "web", {"flags": {"dark": boolean_flag()}})
        stream = flags.sync.SyncFlags(sync_pb2.SyncFlagsRequest(selector="web"))
        first = await next_message(stream)
        stream.cancel()
        everything = await flags.sync.FetchAllFlags(sync_pb2.FetchAllFlagsRequest())
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await flags.sync.FetchAllFlags(sync_pb2.FetchAllFlagsRequest(selector="x=y"))

    assert set(json.loads(first.flag_configuration)["flags"]) == {"dark"}
    assert set(json.loads(everything.flag_configuration)["flags"]) == {"dark", *CHECKOUT["flags"]}
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_get_metadata_answers_the_static_context_unless_disabled(
    start_flags: StartFlags,
) -> None:
    async with start_flags(static_context={"region": "eu"}) as flags:
        metadata = await flags.sync.GetMetadata(sync_pb2.GetMetadataRequest())
    async with start_flags(static_context={"region": "eu"}, sync_metadata_disabled=True) as flags:
        with pytest.raises(grpc.aio.AioRpcError) as disabled:
            await flags.sync.GetMetadata(sync_pb2.GetMetadataRequest())

    assert MessageToDict(metadata.metadata) == {"region": "eu"}
    assert disabled.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_served_variants_are_counted_per_flag(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        for user in ("a", "b", "c", "d", "e", "f"):
            await flags.v2.ResolveString(
                v2.ResolveStringRequest(
                    flag_key="model-experiment", context=struct({"targetingKey": user})
                )
            )
        counts = {
            variant: flags.metric(
                "flags_evaluations_total",
                flag_key="model-experiment",
                variant=variant,
                reason="TARGETING_MATCH",
            )
            for variant in ("small", "large")
        }
        revision = flags.metric("flags_revision")

    assert counts["small"] + counts["large"] == 6
    assert revision == 1


async def test_open_streams_are_counted(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        events = flags.v2.EventStream(v2.EventStreamRequest())
        sync = flags.sync.SyncFlags(sync_pb2.SyncFlagsRequest())
        await next_message(events)
        await next_message(sync)
        both = flags.metric("flags_streams")
        events.cancel()
        sync.cancel()

    assert both == 2
