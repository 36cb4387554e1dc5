"""Fake LLM upstreams for tests and benchmarks: an OpenAI-compatible API and Anthropic's
Messages API, served over real HTTP on loopback, steered at run time by a `FakeUpstreamControl`.

    control = FakeUpstreamControl()
    async with serve_upstream(fake_openai_app(control)) as base_url:
        control.fail_next(1, 429, retry_after="2")
        ...
        assert control.last_request.headers["authorization"] == "Bearer sk-test"

Standalone (for a benchmark): `python -m tests.router.upstreams --port 9000 --kind openai`.
"""

from tests.router.upstreams.anthropic_fake import fake_anthropic_app
from tests.router.upstreams.control import FakeUpstreamControl, InjectedFailure, RecordedRequest
from tests.router.upstreams.openai_fake import fake_openai_app
from tests.router.upstreams.serving import serve_upstream

__all__ = [
    "FakeUpstreamControl",
    "InjectedFailure",
    "RecordedRequest",
    "fake_anthropic_app",
    "fake_openai_app",
    "serve_upstream",
]
