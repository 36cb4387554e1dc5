"""The fake upstreams themselves: the standalone process a benchmark runs, and the failure
modes tests rely on behaving as documented."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.router.upstreams import FakeUpstreamControl, fake_openai_app, serve_upstream

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standalone_openai() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.router.upstreams", "--port", "0", "--kind", "openai"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake openai upstream at http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.slow
async def test_the_standalone_fake_answers_chat_completions(standalone_openai: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(
            f"{standalone_openai}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "Hi there"}]},
        )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "fake-openai answer to: Hi there"


async def test_a_seeded_failure_rate_fails_the_same_calls_each_run() -> None:
    async def statuses() -> list[int]:
        control = FakeUpstreamControl(seed=11, failure_rate=0.5, failure_status=502)
        body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
        async with (
            serve_upstream(fake_openai_app(control)) as url,
            httpx.AsyncClient(trust_env=False) as client,
        ):
            return [
                (await client.post(f"{url}/chat/completions", json=body)).status_code
                for _ in range(20)
            ]

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {200, 502}


async def test_the_fake_rejects_a_body_that_is_not_json() -> None:
    control = FakeUpstreamControl()
    async with (
        serve_upstream(fake_openai_app(control)) as url,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        response = await client.post(f"{url}/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert control.requests == []
