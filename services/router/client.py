"""A small command-line client for the router, for people and smoke tests.

    python -m services.router.client models
    python -m services.router.client deployments
    python -m services.router.client complete mock-gpt "What is a circuit breaker?" [--stream]
    python -m services.router.client submit mock-gpt "Summarise this"
    python -m services.router.client job <job_id>

It prints responses as JSON (proto3 JSON mapping); a stream prints its text as it arrives and
the last chunk (usage, who served it) as JSON. Errors print the status and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.router.client")
    parser.add_argument("--address", default="127.0.0.1:50053")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list the catalogue")
    commands.add_parser("deployments", help="circuit state and latency of each deployment")
    for name, what in (("complete", "one chat completion"), ("submit", "queue a completion job")):
        command = commands.add_parser(name, help=what)
        command.add_argument("model")
        command.add_argument("question")
        command.add_argument("--temperature", type=float)
        if name == "complete":
            command.add_argument("--stream", action="store_true")
    job = commands.add_parser("job", help="a job's state and result")
    job.add_argument("job_id")
    return parser


def _request(args: argparse.Namespace) -> pb.CompleteRequest:
    request = pb.CompleteRequest(
        model=args.model, messages=[pb.ChatMessage(role="user", content=args.question)]
    )
    if args.temperature is not None:
        request.temperature = args.temperature
    return request


async def _call(args: argparse.Namespace, stub: pb_grpc.RouterServiceStub) -> Any:
    if args.command == "models":
        return await stub.ListModels(pb.ListModelsRequest())
    if args.command == "deployments":
        return await stub.ListDeployments(pb.ListDeploymentsRequest())
    if args.command == "submit":
        return await stub.SubmitJob(pb.SubmitJobRequest(request=_request(args)))
    if args.command == "job":
        return await stub.GetJob(pb.GetJobRequest(job_id=args.job_id))
    if not args.stream:
        return await stub.Complete(_request(args))
    last = None
    async for chunk in stub.StreamComplete(pb.StreamCompleteRequest(request=_request(args))):
        for choice in chunk.choices:
            print(choice.delta.content, end="", flush=True)
        last = chunk
    print()
    return last


async def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    async with grpc.aio.insecure_channel(args.address) as channel:
        try:
            reply = await _call(args, pb_grpc.RouterServiceStub(channel))
        except grpc.aio.AioRpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(MessageToJson(reply, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
