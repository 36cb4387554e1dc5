"""A chat completion through the pipeline of DESIGN.md, after the key is known.

    [experiments: flags pick model / prompt label] -> [render a stored prompt] -> parse
        -> estimate -> admit (rate limit and budget, at once) -> router -> answer, reconcile

The router's call carries the gateway's `CallContext` (request id, tenant, `keys/<id>` as the
subject, the endpoint, the stored prompt and version when the request named one (`prompts`),
the experiments' variants (`experiments`));
the router records the usage and charges the budget by that request id.
The pipeline settles the rate-limit reservation with the real token count once the call is
over, off the response's critical path (a background task; `drain` waits for them). A cache hit
settles 0 tokens: tokens-per-minute limits pace upstream load, and a hit has none. A stream the
client leaves before its usage arrives settles an estimate of what the upstream did: the
prompt's tokens and those of the output streamed so far (the router records the budget's side
of such a call as interrupted); otherwise the whole worst case would stay counted.

Headers: the `x-ratelimit-*` of the admission, `x-request-id`, and `x-switchboard-cache`
(`hit`/`miss`) on a plain answer. A stream's headers leave before the router says who served it
(that comes with its last chunk), so a stream carries no cache header.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from gateway.keys.model import ApiKey
from gateway.openai.errors import OpenAIError, from_rpc_error
from gateway.openai.requests import ENDPOINT, ChatCompletionCall, parse_chat_completion
from gateway.openai.responses import chat_completion, translate_stream
from gateway.openai.sse import primed, sse_frames
from gateway.pipeline.admission import Admission, Candidate, Ticket
from gateway.pipeline.catalogue import Catalogue
from gateway.pipeline.estimate import estimate_tokens, message_chars, tokens_of
from gateway.pipeline.experiments import Experiments
from gateway.pipeline.prompts import PromptUse, StoredPrompts
from gateway.pipeline.subjects import key_subject

log = logging.getLogger("gateway.pipeline")

CACHE_HEADER = "x-switchboard-cache"
REQUEST_ID_HEADER = "x-request-id"
CLIENT_REQUEST_ID_HEADER = "x-client-request-id"
Json = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    key: ApiKey
    request_id: str
    client_request_id: str | None = None

    def metadata(self) -> list[tuple[str, str]]:
        found = [(REQUEST_ID_HEADER, self.request_id)]
        if self.client_request_id:
            found.append((CLIENT_REQUEST_ID_HEADER, self.client_request_id))
        return found


@dataclass(frozen=True)
class Completed:
    body: Json
    headers: dict[str, str]


@dataclass(frozen=True)
class Streaming:
    frames: AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)


class ChatPipeline:
    def __init__(
        self,
        router: pb_grpc.RouterServiceStub,
        admission: Admission,
        catalogue: Catalogue,
        *,
        output_tokens_estimate: int = 1024,
        timeout_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
        prompts: StoredPrompts | None = None,
        experiments: Experiments | None = None,
    ) -> None:
        self._router = router
        self._prompts = prompts
        self._experiments = experiments
        self._admission = admission
        self._catalogue = catalogue
        self._output_estimate = output_tokens_estimate
        self._timeout = timeout_seconds
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, body: object, caller: Caller) -> Completed | Streaming:
        """The answer to one request; raises OpenAIError (with headers) when there is none."""
        variants: dict[str, str] = {}
        if self._experiments is not None:
            body, variants = await self._experiments.assign(body, caller.key)
        prompt = None
        if self._prompts is not None:
            body, prompt = await self._prompts.apply(body)
        call = parse_chat_completion(body, context(caller, prompt, variants))
        model = call.request.model
        served = await self._catalogue.first_deployment(model)
        tokens = estimate_tokens(call.request, self._output_estimate)
        candidate = Candidate(caller.request_id, caller.key, model, tokens, served)
        ticket = await self._admission.admit(candidate)
        headers = {**ticket.headers, **_ids(caller)}
        try:
            if call.stream:
                return await self._stream(call, caller, ticket, headers, tokens.input_tokens)
            return await self._complete(call, caller, ticket, headers)
        except OpenAIError as error:
            error.headers = {**headers, **error.headers}
            raise

    async def drain(self) -> None:
        """Waits for the reconciliations still running (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _complete(
        self, call: ChatCompletionCall, caller: Caller, ticket: Ticket, headers: dict[str, str]
    ) -> Completed:
        try:
            response: pb.CompleteResponse = await self._router.Complete(
                call.request, timeout=self._timeout, metadata=caller.metadata()
            )
        except grpc.aio.AioRpcError as error:
            self._later(self._admission.abandon(ticket))
            raise from_rpc_error(error) from None
        hit = response.served.cache_hit
        self._later(self._admission.settle(ticket, 0 if hit else _total(response.usage)))
        headers[CACHE_HEADER] = "hit" if hit else "miss"
        return Completed(chat_completion(response, self._clock), headers)

    async def _stream(
        self,
        call: ChatCompletionCall,
        caller: Caller,
        ticket: Ticket,
        headers: dict[str, str],
        input_tokens: int,
    ) -> Streaming:
        rpc = self._router.StreamComplete(
            call.stream_request(), timeout=self._timeout, metadata=caller.metadata()
        )
        try:
            chunks = await primed(self._reconciled(rpc, ticket, input_tokens))
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        frames = sse_frames(translate_stream(chunks, call.include_usage, self._clock))
        return Streaming(frames, headers)

    async def _reconciled(
        self, rpc: Any, ticket: Ticket, input_tokens: int
    ) -> AsyncIterator[pb.StreamCompleteResponse]:
        """The router's chunks, settling the reservation by the last one's usage, or releasing
        it when the router failed; a stream the client left is cancelled at the router and
        settled by estimate (CancelledError or GeneratorExit: not an Exception)."""
        actual: int | None = None
        streamed_chars = 0
        failed = False
        try:
            async for chunk in rpc:
                if chunk.HasField("usage"):
                    actual = 0 if chunk.served.cache_hit else _total(chunk.usage)
                streamed_chars += sum(message_chars(choice.delta) for choice in chunk.choices)
                yield chunk
        except Exception:
            failed = True
            raise
        finally:
            rpc.cancel()
            if failed and actual is None:
                self._later(self._admission.abandon(ticket))
            else:
                estimate = input_tokens + tokens_of(streamed_chars)
                self._later(self._admission.settle(ticket, estimate if actual is None else actual))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def context(
    caller: Caller, prompt: PromptUse | None = None, variants: Mapping[str, str] | None = None
) -> pb.CallContext:
    return pb.CallContext(
        request_id=caller.request_id,
        tenant=caller.key.tenant,
        subject=key_subject(caller.key),
        endpoint=ENDPOINT,
        user=caller.key.user,
        api_key_id=caller.key.id,
        prompt_name=prompt.name if prompt else "",
        prompt_version=prompt.version if prompt else 0,
        flag_variants=dict(variants or {}),
    )


def _ids(caller: Caller) -> dict[str, str]:
    found = {REQUEST_ID_HEADER: caller.request_id}
    if caller.client_request_id:
        found[CLIENT_REQUEST_ID_HEADER] = caller.client_request_id
    return found


def _total(usage: pb.Usage) -> int:
    """The tokens a tokens-per-minute limit counts: all the model read (cache writes included,
    as the estimate assumed) and wrote."""
    return int(usage.input_tokens + usage.cache_write_tokens + usage.output_tokens)


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except grpc.aio.AioRpcError as error:
        log.warning("reconciling a reservation failed: %s", error.code().name)


__all__ = [
    "CACHE_HEADER",
    "Caller",
    "ChatPipeline",
    "Completed",
    "Streaming",
    "context",
]
