"""Usage events straight to the cost service's RecordUsage: the router's sink when it runs
without Redis but knows where the cost service is (`ROUTER_COST_ADDR`), as `make run` does.

Buffering, retries and shutdown are `BufferedUsageSink`'s: an unreachable cost service loses
nothing while the buffer has room. A batch the cost service refuses as invalid (which would be
refused again forever) is dropped and counted (`reason="refused"`) rather than retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc

from services.router.buffered_usage_sink import Backoff, BufferedUsageSink
from services.router.usage_events import UsageEvent, UsageMetrics
from svckit.channels import service_channel

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 10.0


class CostUsageSink(BufferedUsageSink):
    def __init__(
        self,
        address: str,
        metrics: UsageMetrics,
        *,
        buffer_size: int = 100_000,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            metrics,
            buffer_size=buffer_size,
            batch_size=min(batch_size, 1000),  # RecordUsage takes at most 1,000 events
            backoff=backoff or Backoff(),
            rng=rng,
            clock=clock,
        )
        self._address = address
        # Opened by the writer, in the event loop that serves: a channel belongs to one loop,
        # and the sink is built before the service's loop runs.
        self._channel: grpc.aio.Channel | None = None

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await super().aclose(timeout)
        if self._channel is not None:
            await self._channel.close()

    async def _write(self, batch: list[UsageEvent]) -> int:
        if self._channel is None:
            self._channel = service_channel(self._address)
        stub = cost_grpc.CostServiceStub(self._channel)
        request = cost_pb.RecordUsageRequest(events=[usage_message(e) for e in batch])
        try:
            await stub.RecordUsage(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            log.error("the cost service refused %d usage events: %s", len(batch), error.details())
            self._metrics.dropped.labels("refused").inc(len(batch))
            return 0
        return len(batch)


def usage_message(event: UsageEvent) -> cost_pb.UsageEvent:
    occurred = Timestamp()
    occurred.FromNanoseconds(round(event.occurred_at * 1e9))
    latency = Duration()
    latency.FromMilliseconds(event.latency_ms)
    return cost_pb.UsageEvent(
        request_id=event.request_id,
        occurred_at=occurred,
        tenant=event.tenant,
        subject=event.subject,
        endpoint=event.endpoint,
        model=event.model,
        deployment=event.deployment,
        provider=event.provider,
        upstream_model=event.upstream_model,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cached_tokens=event.cached_tokens,
        cache_write_tokens=event.cache_write_tokens,
        latency=latency,
        outcome=event.outcome,
        cache_hit=event.cache_hit,
        prompt_name=event.prompt_name,
        prompt_version=event.prompt_version,
        flag_variants=dict(event.flag_variants),
        user=event.user,
        api_key_id=event.api_key_id,
    )
