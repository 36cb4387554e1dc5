"""Concurrent writers through two replicas sharing one database (PostgreSQL and SQLite): version
numbers stay distinct and consecutive, content stays deduplicated, and of label moves expecting
the same version exactly one wins."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import grpc
from switchboard.prompts.v1 import prompts_service_pb2 as pb

from .conftest import StartPrompts
from .prompt_calls import create, details, text_version

CALLERS = 40


async def test_concurrent_creates_get_distinct_consecutive_numbers(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as one, start_prompts() as two:
        stubs = [one.stub, two.stub]
        replies = await asyncio.gather(
            *(
                stubs[i % 2].CreatePromptVersion(text_version("race/new", f"content {i}"))
                for i in range(CALLERS)
            )
        )

        numbers = sorted(r.version.version for r in replies)
        assert numbers == list(range(1, CALLERS + 1))
        assert all(r.created for r in replies)
        by_content = {r.version.text: r.version.version for r in replies}
        assert len(by_content) == CALLERS
        latest = await one.stub.GetPrompt(pb.GetPromptRequest(name="race/new", label="latest"))
        assert latest.version.version == CALLERS
        listed = await two.stub.ListPromptVersions(
            pb.ListPromptVersionsRequest(name="race/new", page_size=100)
        )
        assert [v.version for v in listed.versions] == list(range(CALLERS, 0, -1))
        history = await one.stub.ListLabelHistory(
            pb.ListLabelHistoryRequest(name="race/new", label="latest", page_size=100)
        )
        assert len(history.moves) == CALLERS  # every step of latest recorded, none lost
        assert {(m.from_version, m.to_version) for m in history.moves} == {
            (n - 1, n) for n in range(1, CALLERS + 1)
        }


async def test_concurrent_creates_of_the_same_content_make_one_version(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as one, start_prompts() as two:
        await create(one.stub, "race/same", "existing")
        stubs = [one.stub, two.stub]
        replies = await asyncio.gather(
            *(
                stubs[i % 2].CreatePromptVersion(text_version("race/same", "identical"))
                for i in range(CALLERS)
            )
        )

        assert {r.version.version for r in replies} == {2}
        assert sum(r.created for r in replies) == 1


async def test_of_concurrent_label_moves_expecting_one_version_exactly_one_wins(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as one, start_prompts() as two:
        for i in range(CALLERS):
            await create(
                one.stub, "race/label", f"v{i + 1}", labels=["production"] if i == 0 else []
            )
        stubs = [one.stub, two.stub]

        async def move(target: int) -> str:
            request = pb.MoveLabelRequest(
                name="race/label",
                label="production",
                version=target,
                expected_version=1,
                actor=f"caller-{target}",
            )
            try:
                await stubs[target % 2].MoveLabel(request)
            except grpc.aio.AioRpcError as exc:
                return f"{exc.code().name} {details(exc)[0]}"
            return "OK"

        outcomes = await asyncio.gather(*(move(target) for target in range(2, CALLERS + 1)))

        assert Counter(outcomes) == {
            "OK": 1,
            "FAILED_PRECONDITION LABEL_VERSION_MISMATCH": CALLERS - 2,
        }
        winner = outcomes.index("OK") + 2
        current = await two.stub.GetPrompt(pb.GetPromptRequest(name="race/label"))
        assert current.version.version == winner
        history = await one.stub.ListLabelHistory(
            pb.ListLabelHistoryRequest(name="race/label", label="production")
        )
        assert [(m.from_version, m.to_version, m.actor) for m in history.moves] == [
            (1, winner, f"caller-{winner}"),
            (0, 1, ""),
        ]


async def test_concurrent_unconditional_moves_leave_a_consistent_history(
    start_prompts: StartPrompts,
) -> None:
    async with start_prompts() as one, start_prompts() as two:
        for i in range(5):
            await create(one.stub, "race/free", f"v{i + 1}")
        stubs = [one.stub, two.stub]
        await asyncio.gather(
            *(
                stubs[i % 2].MoveLabel(
                    pb.MoveLabelRequest(name="race/free", label="staging", version=i % 5 + 1)
                )
                for i in range(CALLERS)
            )
        )

        history = await one.stub.ListLabelHistory(
            pb.ListLabelHistoryRequest(name="race/free", label="staging", page_size=100)
        )
        moves = list(reversed(history.moves))
        # Each move starts where the one before it ended: no move was lost or interleaved.
        assert moves[0].from_version == 0
        for before, after in itertools.pairwise(moves):
            assert after.from_version == before.to_version != after.to_version
        current = await two.stub.GetPrompt(pb.GetPromptRequest(name="race/free", label="staging"))
        assert current.version.version == moves[-1].to_version
