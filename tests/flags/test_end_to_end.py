"""The acceptance paths with the real OpenFeature flagd provider, in RPC and in-process mode:
an admin change reaches connected clients (and empties the RPC cache), the kill switch,
rollback, and a rollout's steps, with both modes agreeing on every assignment."""

from __future__ import annotations

import asyncio

from openfeature.contrib.provider.flagd.config import CacheType, ResolverType
from openfeature.evaluation_context import EvaluationContext
from switchboard.flags.v1 import flags_service_pb2 as pb

from .conftest import FakeClock, StartFlags
from .flag_calls import flag_message, import_set
from .flag_data import CHECKOUT
from .openfeature_clients import openfeature_client

RPC, IN_PROCESS = ResolverType.RPC, ResolverType.IN_PROCESS


def banner(colour: str) -> pb.Flag:
    return flag_message("banner", {**CHECKOUT["flags"]["banner"], "defaultVariant": colour})


async def test_an_admin_change_reaches_a_connected_in_process_client(
    start_flags: StartFlags,
) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        async with openfeature_client(IN_PROCESS, flags.server.port) as client:
            before = await client.evaluate("string", "banner", "none")
            await flags.admin.UpdateFlag(
                pb.UpdateFlagRequest(flag_set_id="checkout", flag=banner("blue"), author="ann")
            )
            change = await client.next_change()  # awaited, not timed: the SDK's own event
            after = await client.evaluate("string", "banner", "none")

    assert before.value == "#f00"
    assert change.flags_changed == ["banner"]
    assert (after.value, after.variant) == ("#00f", "blue")


async def test_an_admin_change_empties_the_rpc_clients_cache(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        async with openfeature_client(RPC, flags.server.port, cache=CacheType.LRU) as client:
            first = await client.evaluate("string", "banner", "none")
            cached = await client.evaluate("string", "banner", "none")
            await flags.admin.UpdateFlag(
                pb.UpdateFlagRequest(flag_set_id="checkout", flag=banner("blue"), author="ann")
            )
            change = await client.next_change()
            fresh = await client.evaluate("string", "banner", "none")

    assert (first.value, first.reason) == ("#f00", "STATIC")
    assert (cached.value, cached.reason) == ("#f00", "CACHED")
    assert change.flags_changed == ["banner"]
    assert (fresh.value, fresh.reason) == ("#00f", "STATIC")


async def test_the_kill_switch_gives_every_client_its_default_at_once(
    start_flags: StartFlags,
) -> None:
    context = EvaluationContext(attributes={"email": "a@example.com"})
    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        async with (
            openfeature_client(RPC, flags.server.port, cache=CacheType.LRU) as remote,
            openfeature_client(IN_PROCESS, flags.server.port) as local,
        ):
            on = [
                await c.evaluate("boolean", "new-checkout", False, context) for c in (remote, local)
            ]
            request = {"flag_set_id": "checkout", "flag_key": "new-checkout", "author": "oncall"}
            await flags.admin.DisableFlag(pb.DisableFlagRequest(**request, message="incident"))
            await asyncio.gather(remote.next_change(), local.next_change())
            killed = [
                await c.evaluate("boolean", "new-checkout", False, context) for c in (remote, local)
            ]
            await flags.admin.EnableFlag(pb.EnableFlagRequest(**request))
            await asyncio.gather(remote.next_change(), local.next_change())
            back = [
                await c.evaluate("boolean", "new-checkout", False, context) for c in (remote, local)
            ]

    assert [(d.value, d.reason) for d in on] == [(True, "TARGETING_MATCH")] * 2
    assert [(d.value, d.reason, d.variant) for d in killed] == [(False, "DISABLED", None)] * 2
    assert [d.value for d in back] == [True, True]


async def test_a_rollback_reaches_clients_like_any_change(start_flags: StartFlags) -> None:
    async with start_flags() as flags:
        imported = await import_set(flags.admin, "checkout", CHECKOUT)
        await flags.admin.UpdateFlag(
            pb.UpdateFlagRequest(flag_set_id="checkout", flag=banner("blue"), author="ann")
        )
        async with openfeature_client(IN_PROCESS, flags.server.port) as client:
            changed = await client.evaluate("string", "banner", "none")
            await flags.admin.RollbackFlagSet(
                pb.RollbackFlagSetRequest(
                    flag_set_id="checkout", revision=imported.revision.revision, author="ann"
                )
            )
            await client.next_change()
            restored = await client.evaluate("string", "banner", "none")

    assert (changed.value, restored.value) == ("#00f", "#f00")


async def test_a_rollouts_steps_reach_both_modes_which_agree_on_every_user(
    start_flags: StartFlags, clock: FakeClock
) -> None:
    users = [EvaluationContext(f"user-{i}") for i in range(150)]
    steps = [
        pb.RolloutStep(weights={"small": 90, "large": 10}),
        pb.RolloutStep(weights={"small": 50, "large": 50}, wait={"seconds": 3600}),
    ]

    async def assignments(client: object) -> list[str]:
        return [
            (await client.evaluate("string", "model-experiment", "none", user)).value  # type: ignore[attr-defined]
            for user in users
        ]

    async with start_flags() as flags:
        await import_set(flags.admin, "checkout", CHECKOUT)
        async with (
            openfeature_client(RPC, flags.server.port) as remote,
            openfeature_client(IN_PROCESS, flags.server.port) as local,
        ):
            await flags.admin.StartRollout(
                pb.StartRolloutRequest(
                    flag_set_id="checkout", flag_key="model-experiment", steps=steps, author="ann"
                )
            )
            await local.next_change()
            first = (await assignments(remote), await assignments(local))
            clock.advance(3600)
            await flags.service.rollouts.advance()
            await local.next_change()
            second = (await assignments(remote), await assignments(local))

    assert first[0] == first[1]
    assert second[0] == second[1]
    large_first = {i for i, v in enumerate(first[0]) if v == "gpt-4o"}
    large_second = {i for i, v in enumerate(second[0]) if v == "gpt-4o"}
    assert 0 < len(large_first) < len(large_second) < len(users)
