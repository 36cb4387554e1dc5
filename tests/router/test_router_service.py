"""The router over gRPC, in both modes, against fake upstreams over real HTTP: answers, usage,
streams, the cache, retries, fallback, breakers, faults, the catalogue and bad input."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from switchboard.router.v1 import router_service_pb2 as pb

from services.router.validation import REQUEST_ID

from .conftest import RunningRouter, StartRouter, Upstream, catalogue, openai_deployment
from .service_calls import ask, details, ttl, usage_events

pytestmark = pytest.mark.slow

# Fine for the interceptor (any 1-128 characters), refused by the cost ledger's RecordUsage.
UNLEDGERABLE_ID = "order 42/retry"
BEYOND_TIMEDELTA = Duration(seconds=2**62)


def openai_then_anthropic(primary: Upstream, secondary: Upstream) -> str:
    return catalogue(
        "gpt",
        openai_deployment("primary", primary),
        openai_deployment("secondary", secondary, provider="anthropic"),
    )


async def test_a_completion_reports_who_served_it_and_emits_one_usage_event(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        context = pb.CallContext(
            request_id="req-1",
            tenant="acme",
            subject="users/u1",
            endpoint="/v1/chat/completions",
            prompt_name="greeting",
            prompt_version=3,
            flag_variants={"new-model": "treatment"},
            user="u1",
            api_key_id="k1",
        )
        answer = await r.stub.Complete(ask("gpt", context=context))
        events = await usage_events(r)
    assert answer.model == "gpt"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.usage.input_tokens > 0
    assert answer.usage.output_tokens > 0
    served = answer.served
    assert (served.request_id, served.deployment, served.provider) == ("req-1", "primary", "openai")
    assert (served.upstream_model, served.attempts, served.cache_hit) == ("primary-model", 1, False)
    assert openai_upstream.control.last_request.body["model"] == "primary-model"
    (event,) = events
    assert (event.request_id, event.tenant, event.subject, event.model) == (
        "req-1",
        "acme",
        "users/u1",
        "gpt",
    )
    assert (event.deployment, event.provider, event.outcome) == ("primary", "openai", "success")
    assert (event.input_tokens, event.output_tokens) == (
        answer.usage.input_tokens,
        answer.usage.output_tokens,
    )
    assert (event.prompt_name, event.prompt_version) == ("greeting", 3)
    assert dict(event.flag_variants) == {"new-model": "treatment"}
    assert (event.user, event.api_key_id) == ("u1", "k1")
    assert r.metric("router_requests_total", gen_ai_request_model="gpt", outcome="success") == 1


async def test_a_stream_delivers_the_answer_in_pieces_and_the_upstreams_usage_at_the_end(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        whole = await r.stub.Complete(ask("gpt"))
        chunks = [
            c async for c in r.stub.StreamComplete(pb.StreamCompleteRequest(request=ask("gpt")))
        ]
        events = await usage_events(r)
    assert len(chunks) > 2
    content = "".join(choice.delta.content for c in chunks for choice in c.choices)
    assert content == whole.choices[0].message.content
    last = chunks[-1]
    assert last.HasField("usage")
    assert last.HasField("served")
    assert not any(c.HasField("served") for c in chunks[:-1])
    assert last.usage == whole.usage
    assert last.served.deployment == "primary"
    assert openai_upstream.control.last_request.body["stream_options"] == {"include_usage": True}
    streamed = [e for e in events if e.streamed]
    assert len(streamed) == 1
    assert (streamed[0].input_tokens, streamed[0].output_tokens) == (
        whole.usage.input_tokens,
        whole.usage.output_tokens,
    )
    assert (
        r.metric(
            "gen_ai_server_time_to_first_token_seconds_count",
            gen_ai_operation_name="chat",
            gen_ai_provider_name="openai",
            gen_ai_request_model="gpt",
        )
        == 1
    )


async def test_deterministic_answers_come_from_the_cache_unary_and_streamed(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        first = await r.stub.Complete(ask("gpt", temperature=0))
        second = await r.stub.Complete(ask("gpt", temperature=0))
        chunks = [
            c
            async for c in r.stub.StreamComplete(
                pb.StreamCompleteRequest(request=ask("gpt", temperature=0))
            )
        ]
        events = await usage_events(r)
    assert len(openai_upstream.control.requests) == 1
    assert not first.served.cache_hit
    assert second.served.cache_hit
    assert second.choices == first.choices
    assert second.served.deployment == ""
    replayed = "".join(choice.delta.content for c in chunks for choice in c.choices)
    assert replayed == first.choices[0].message.content
    assert chunks[-1].served.cache_hit
    hits = [e for e in events if e.cache_hit]
    assert len(hits) == 2
    assert all(e.input_tokens == e.output_tokens == 0 for e in hits)
    assert r.metric("router_cache_requests_total", result="hit") == 2


async def test_sampled_answers_and_no_cache_requests_go_upstream(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        await r.stub.Complete(ask("gpt", temperature=0.7))
        await r.stub.Complete(ask("gpt", temperature=0.7))
        await r.stub.Complete(ask("gpt", temperature=0))
        skip = ask("gpt", temperature=0, cache=pb.CacheControl(no_cache=True))
        assert not (await r.stub.Complete(skip)).served.cache_hit
        opted = ask("gpt", temperature=0.7, cache=pb.CacheControl(allow_nondeterministic=True))
        await r.stub.Complete(opted)
        assert (await r.stub.Complete(opted)).served.cache_hit
        stored_briefly = ask("gpt", "brief", temperature=0, cache=pb.CacheControl(ttl=ttl(0.05)))
        await r.stub.Complete(stored_briefly)
        await asyncio.sleep(0.1)
        assert not (await r.stub.Complete(stored_briefly)).served.cache_hit
    assert len(openai_upstream.control.requests) == 7


async def test_a_retryable_failure_is_retried_after_its_retry_after(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    openai_upstream.control.fail_next(1, 429, retry_after="0")
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        answer = await r.stub.Complete(ask("gpt"))
    assert (answer.served.deployment, answer.served.attempts) == ("primary", 2)


async def test_a_failing_deployment_falls_back_to_the_next(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    openai_upstream.control.fail_next(2, 503)
    text = catalogue(
        "gpt",
        openai_deployment("primary", openai_upstream),
        openai_deployment("claude", anthropic_upstream, provider="anthropic"),
    )
    async with start_router(text) as r:
        answer = await r.stub.Complete(ask("gpt"))
        assert r.metric("router_fallbacks_total", gen_ai_request_model="gpt") == 1
    assert (answer.served.deployment, answer.served.provider) == ("claude", "anthropic")
    assert answer.served.attempts == 3  # two on the primary (max_retries 1), one on claude
    assert anthropic_upstream.control.last_request.path.endswith("/messages")


async def test_when_every_deployment_fails_the_caller_gets_unavailable_with_each_reason(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    openai_upstream.control.failure_rate = 1.0
    anthropic_upstream.control.failure_rate = 1.0
    async with start_router(openai_then_anthropic(openai_upstream, anthropic_upstream)) as r:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.Complete(ask("gpt"))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    reason, metadata, _ = details(caught.value)
    assert reason == "ALL_DEPLOYMENTS_FAILED"
    assert metadata == {"primary": "UPSTREAM_ERROR", "secondary": "UPSTREAM_ERROR"}
    assert "primary" in (caught.value.details() or "")


async def test_a_request_the_upstream_rejects_is_invalid_argument_and_not_retried(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    openai_upstream.control.fail_next(1, 400, message="context too long")
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.Complete(ask("gpt"))
        (status,) = (await r.stub.ListDeployments(pb.ListDeploymentsRequest())).deployments
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(caught.value)[0] == "UPSTREAM_REJECTED"
    assert len(openai_upstream.control.requests) == 1
    assert status.circuit == pb.CIRCUIT_STATE_CLOSED


async def test_consecutive_failures_open_the_circuit_and_the_deployment_is_skipped(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    openai_upstream.control.failure_rate = 1.0
    async with start_router(
        openai_then_anthropic(openai_upstream, anthropic_upstream), breaker_consecutive_failures=2
    ) as r:
        await r.stub.Complete(ask("gpt"))  # two failures on the primary open its circuit
        tried = len(openai_upstream.control.requests)
        answer = await r.stub.Complete(ask("gpt"))
        statuses = (await r.stub.ListDeployments(pb.ListDeploymentsRequest())).deployments
        state = r.metric("router_circuit_state", deployment="primary")
        skipped = r.metric("router_deployments_skipped_total", deployment="primary")
    assert tried == 2
    assert len(openai_upstream.control.requests) == 2
    assert answer.served.deployment == "secondary"
    by_name = {s.deployment: s for s in statuses}
    assert by_name["primary"].circuit == pb.CIRCUIT_STATE_OPEN
    assert by_name["primary"].HasField("retry_at")
    assert by_name["secondary"].circuit == pb.CIRCUIT_STATE_CLOSED
    assert by_name["secondary"].HasField("observed_latency")
    assert (state, skipped) == (1, 1)


async def test_injected_faults_are_set_listed_applied_and_cleared(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    async with start_router(openai_then_anthropic(openai_upstream, anthropic_upstream)) as r:
        fault = pb.Fault(target="deployments/primary", outage=True)
        assert (await r.stub.SetFault(pb.SetFaultRequest(fault=fault))).fault == pb.Fault(
            target="deployments/primary", outage=True, latency=ttl(0)
        )
        listed = (await r.stub.ListFaults(pb.ListFaultsRequest())).faults
        answer = await r.stub.Complete(ask("gpt"))
        await r.stub.ClearFault(pb.ClearFaultRequest(target="deployments/primary"))
        after = await r.stub.Complete(ask("gpt", "again"))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await r.stub.ClearFault(pb.ClearFaultRequest(target="deployments/primary"))
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await r.stub.SetFault(pb.SetFaultRequest(fault=pb.Fault(target="x", error_rate=3)))
    assert [f.target for f in listed] == ["deployments/primary"]
    assert answer.served.deployment == "secondary"
    assert len(openai_upstream.control.requests) == 1  # the outage never reached the upstream
    assert after.served.deployment == "primary"
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(bad.value)[2] == ["fault.target", "fault.error_rate"]


async def test_a_fault_latency_beyond_timedelta_is_invalid_argument(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    fault = pb.Fault(target="deployments/primary", latency=BEYOND_TIMEDELTA)
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.SetFault(pb.SetFaultRequest(fault=fault))
        listed = (await r.stub.ListFaults(pb.ListFaultsRequest())).faults
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(caught.value)[2] == ["fault.latency"]
    assert list(listed) == []


async def test_fault_injection_is_refused_unless_enabled(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    text = catalogue("gpt", openai_deployment("primary", openai_upstream))
    async with start_router(text, faults_enabled=False) as r:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.SetFault(pb.SetFaultRequest(fault=pb.Fault(target="providers/openai")))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(caught.value)[0] == "FAULTS_DISABLED"


@pytest.mark.parametrize(
    ("request_", "code", "fields"),
    [
        (pb.CompleteRequest(model="gpt"), grpc.StatusCode.INVALID_ARGUMENT, ["messages"]),
        (ask("gpt", max_tokens=-5), grpc.StatusCode.INVALID_ARGUMENT, ["max_tokens"]),
        (
            ask(
                "gpt",
                tools=[pb.Tool(type="function", function=pb.FunctionDefinition(name="bad name"))],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["tools[0].function.name"],
        ),
        (
            ask(
                "gpt",
                tools=[pb.Tool(type="web", function=pb.FunctionDefinition(name="f"))],
                tool_choice="g",
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["tools[0].type", "tool_choice"],
        ),
        (
            pb.CompleteRequest(
                model="gpt",
                messages=[
                    pb.ChatMessage(role="robot", content="hi"),
                    pb.ChatMessage(role="tool", content="42"),
                ],
                temperature=3,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["messages[0].role", "messages[1].tool_call_id", "temperature"],
        ),
        (
            ask("gpt", cache=pb.CacheControl(ttl=BEYOND_TIMEDELTA)),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["cache.ttl"],
        ),
        (
            ask("gpt", context=pb.CallContext(request_id=UNLEDGERABLE_ID)),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["context.request_id"],
        ),
        (ask("unknown-model"), grpc.StatusCode.NOT_FOUND, []),
    ],
    ids=[
        "empty-messages",
        "negative-max-tokens",
        "bad-tool-name",
        "malformed-tools",
        "bad-roles",
        "cache-ttl-beyond-timedelta",
        "unledgerable-request-id",
        "unknown-model",
    ],
)
async def test_bad_requests_are_refused_with_details_and_never_reach_an_upstream(
    start_router: StartRouter,
    openai_upstream: Upstream,
    request_: pb.CompleteRequest,
    code: grpc.StatusCode,
    fields: list[str],
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await r.stub.Complete(request_)
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            async for _ in r.stub.StreamComplete(pb.StreamCompleteRequest(request=request_)):
                pass
        events = await usage_events(r)
    for caught in (unary, streamed):
        assert caught.value.code() == code
        assert details(caught.value)[2] == fields
    assert openai_upstream.control.requests == []
    assert events == []


async def test_a_cancelled_stream_cancels_the_upstream_call(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    openai_upstream.control.hold_stream_after = 2
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        call = r.stub.StreamComplete(pb.StreamCompleteRequest(request=ask("gpt")))
        await call.read()
        call.cancel()
        await openai_upstream.control.wait_for_disconnects(1)
        events = await usage_events(r)
    assert openai_upstream.control.disconnects == 1
    assert [e.outcome for e in events] == ["cancelled"]


async def test_a_stream_broken_after_its_first_chunk_is_not_retried(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    openai_upstream.control.drop_stream_after = 2
    async with start_router(openai_then_anthropic(openai_upstream, anthropic_upstream)) as r:
        call = r.stub.StreamComplete(pb.StreamCompleteRequest(request=ask("gpt")))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert details(caught.value)[0] == "UPSTREAM_STREAM_BROKEN"
    assert len(openai_upstream.control.requests) == 1
    assert anthropic_upstream.control.requests == []


async def test_the_catalogue_is_listed_and_reloaded_only_when_valid(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    text = catalogue("gpt", openai_deployment("primary", openai_upstream))
    async with start_router(text) as r:
        listed = (await r.stub.ListModels(pb.ListModelsRequest())).models
        models_file = r.settings.models_file
        models_file.write_text(text.replace("gpt:", "gpt-2:"))
        reloaded = await r.stub.ReloadCatalogue(pb.ReloadCatalogueRequest())
        models_file.write_text("models: {broken: {deployments: []}}")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await r.stub.ReloadCatalogue(pb.ReloadCatalogueRequest())
        after = [m.name for m in (await r.stub.ListModels(pb.ListModelsRequest())).models]
    (model,) = listed
    assert (model.name, model.strategy) == ("gpt", "ordered")
    (deployment,) = model.deployments
    assert (deployment.name, deployment.provider, deployment.base_url) == (
        "primary",
        "openai",
        openai_upstream.base_url,
    )
    assert (reloaded.models, reloaded.deployments) == (1, 1)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert after == ["gpt-2"]


async def test_a_provider_key_comes_from_its_secret_and_never_shows(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    openai_upstream.control.require_key = "sk-right"
    openai_upstream.control.echo_key_in_errors = True
    text = catalogue("gpt", openai_deployment("primary", openai_upstream, api_key_secret="UP_KEY"))
    async with start_router(text, environ={"UP_KEY": "sk-right"}) as r:
        answer = await r.stub.Complete(ask("gpt"))
        models = await r.stub.ListModels(pb.ListModelsRequest())
    assert answer.choices[0].message.content
    assert openai_upstream.control.last_request.headers["authorization"] == "Bearer sk-right"
    assert "sk-right" not in str(models)
    async with start_router(text, environ={"UP_KEY": "sk-wrong-secret"}) as r:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await r.stub.Complete(ask("gpt"))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert details(caught.value)[1] == {"primary": "UPSTREAM_AUTH"}
    assert "sk-wrong-secret" not in str(caught.value.details())


async def test_a_stream_without_the_upstreams_usage_is_recorded_with_an_estimate(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    openai_upstream.control.ignore_include_usage = True
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        request = pb.StreamCompleteRequest(request=ask("gpt", "estimate me"))
        chunks = [c async for c in r.stub.StreamComplete(request)]
        (event,) = await usage_events(r)
        estimated = r.metric("router_usage_estimated_total", gen_ai_request_model="gpt")
    usage = chunks[-1].usage
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert (event.input_tokens, event.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert estimated == 1


async def test_jobs_are_submitted_read_and_refused_when_finished_or_unknown(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        submitted = (await r.stub.SubmitJob(pb.SubmitJobRequest(request=ask("gpt")))).job
        job = submitted
        while job.state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING):
            await asyncio.sleep(0.02)
            job = (await r.stub.GetJob(pb.GetJobRequest(job_id=submitted.job_id))).job
        with pytest.raises(grpc.aio.AioRpcError) as finished:
            await r.stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id))
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await r.stub.GetJob(pb.GetJobRequest(job_id="0" * 32))
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await r.stub.SubmitJob(pb.SubmitJobRequest())
        with pytest.raises(grpc.aio.AioRpcError) as unsigned:
            await r.stub.SubmitJob(
                pb.SubmitJobRequest(request=ask("gpt"), webhook_url="https://example.test/hook")
            )
    assert submitted.state == pb.JOB_STATE_QUEUED
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert job.result.choices[0].message.content
    assert job.result.model == "gpt"
    assert job.attempts == 1
    assert job.HasField("finished")
    assert finished.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(empty.value)[2] == ["request"]
    assert unsigned.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_queued_job_can_be_cancelled(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(
        catalogue("gpt", openai_deployment("primary", openai_upstream)), job_workers=0
    ) as r:
        job = (await r.stub.SubmitJob(pb.SubmitJobRequest(request=ask("gpt")))).job
        cancelled = (await r.stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id))).job
        again = (await r.stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id))).job
    assert cancelled.state == again.state == pb.JOB_STATE_CANCELLED
    assert openai_upstream.control.requests == []


def request_id_metadata(request_id: str) -> tuple[tuple[str, str], ...]:
    return (("x-request-id", request_id),)


async def finished_job(r: RunningRouter, job_id: str) -> pb.Job:
    job: pb.Job = (await r.stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
    while job.state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING):
        await asyncio.sleep(0.02)
        job = (await r.stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
    return job


async def test_a_metadata_request_id_is_used_only_when_the_ledger_accepts_it(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        kept = await r.stub.Complete(ask("gpt"), metadata=request_id_metadata("order-42"))
        replaced = await r.stub.Complete(ask("gpt"), metadata=request_id_metadata(UNLEDGERABLE_ID))
        stream = r.stub.StreamComplete(
            pb.StreamCompleteRequest(request=ask("gpt")),
            metadata=request_id_metadata(UNLEDGERABLE_ID),
        )
        streamed = [c async for c in stream][-1]
        events = await usage_events(r)
    assert kept.served.request_id == "order-42"
    assert REQUEST_ID.match(replaced.served.request_id)
    assert REQUEST_ID.match(streamed.served.request_id)
    assert sorted(e.request_id for e in events) == sorted(
        ["order-42", replaced.served.request_id, streamed.served.request_id]
    )


async def test_a_job_submitted_with_an_unledgerable_metadata_id_is_billed_under_a_fresh_one(
    start_router: StartRouter, openai_upstream: Upstream
) -> None:
    async with start_router(catalogue("gpt", openai_deployment("primary", openai_upstream))) as r:
        submitted = await r.stub.SubmitJob(
            pb.SubmitJobRequest(request=ask("gpt")), metadata=request_id_metadata(UNLEDGERABLE_ID)
        )
        job = await finished_job(r, submitted.job.job_id)
        body_id = ask("gpt", context=pb.CallContext(request_id=UNLEDGERABLE_ID))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await r.stub.SubmitJob(pb.SubmitJobRequest(request=body_id))
        (event,) = await usage_events(r)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert REQUEST_ID.match(event.request_id)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(refused.value)[2] == ["context.request_id"]
