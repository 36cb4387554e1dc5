"""A small command-line client for the rate-limit service, for people and smoke tests.

    python -m services.ratelimit.client tiers
    python -m services.ratelimit.client check keys/demo free --model gpt-4o --tokens 500
    python -m services.ratelimit.client usage keys/demo free
    python -m services.ratelimit.client envoy llm api_key=demo [--hits 3]

It prints the response as JSON (proto3 JSON mapping); errors print the status and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import grpc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf.json_format import MessageToJson
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.ratelimit.client")
    parser.add_argument("--address", default="127.0.0.1:50051")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("tiers", help="list the tiers")
    check = commands.add_parser("check", help="check (and count) one call")
    check.add_argument("subject", help="keys/{id}, users/{id} or tenants/{id}")
    check.add_argument("tier")
    check.add_argument("--model", default="")
    check.add_argument("--tokens", type=int, default=0)
    usage = commands.add_parser("usage", help="a subject's usage against a tier")
    usage.add_argument("subject")
    usage.add_argument("tier")
    usage.add_argument("--model", default="")
    envoy = commands.add_parser("envoy", help="ShouldRateLimit with one descriptor")
    envoy.add_argument("domain")
    envoy.add_argument("entries", nargs="+", help="key=value, in order")
    envoy.add_argument("--hits", type=int, default=0)
    return parser


def _descriptor(entries: Sequence[str]) -> ratelimit_pb2.RateLimitDescriptor:
    pairs = [entry.partition("=") for entry in entries]
    return ratelimit_pb2.RateLimitDescriptor(
        entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, _, v in pairs]
    )


async def _call(args: argparse.Namespace, channel: grpc.aio.Channel) -> Any:
    quota = pb_grpc.RateLimitServiceStub(channel)
    if args.command == "tiers":
        return await quota.ListTiers(pb.ListTiersRequest())
    if args.command == "check":
        subject = pb.QuotaSubject(name=args.subject, tier=args.tier)
        request = pb.CheckQuotaRequest(
            subjects=[subject], model=args.model, estimated_tokens=args.tokens
        )
        return await quota.CheckQuota(request)
    if args.command == "usage":
        usage = pb.GetUsageRequest(subject=args.subject, tier=args.tier, model=args.model)
        return await quota.GetUsage(usage)
    envoy = rls_pb2_grpc.RateLimitServiceStub(channel)
    return await envoy.ShouldRateLimit(
        rls_pb2.RateLimitRequest(
            domain=args.domain, descriptors=[_descriptor(args.entries)], hits_addend=args.hits
        )
    )


async def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    async with grpc.aio.insecure_channel(args.address) as channel:
        try:
            reply = await _call(args, channel)
        except grpc.aio.AioRpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(MessageToJson(reply, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
