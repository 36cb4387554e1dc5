"""The GenAI token histogram counts input as the conventions do: everything the model read."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.router.chat import Usage
from services.router.genai_telemetry import GenAiMetrics, prompt_tokens


def test_cache_writes_count_as_input_tokens() -> None:
    registry = CollectorRegistry()
    usage = Usage(input_tokens=10, output_tokens=3, cached_tokens=4, cache_write_tokens=5)

    GenAiMetrics(registry).usage("claude", "anthropic", usage)

    def tokens(kind: str) -> float | None:
        labels = {
            "gen_ai_operation_name": "chat",
            "gen_ai_provider_name": "anthropic",
            "gen_ai_request_model": "claude",
            "gen_ai_token_type": kind,
        }
        return registry.get_sample_value("gen_ai_client_token_usage_sum", labels)

    assert prompt_tokens(usage) == 15
    assert (tokens("input"), tokens("output")) == (15, 3)
