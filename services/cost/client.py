"""A small command-line client for the cost service, for people and smoke tests.

    python -m services.cost.client spend [--group-by model subject day] [--days 30]
    python -m services.cost.client price openai gpt-4o
    python -m services.cost.client budgets [--scope tenants/acme]
    python -m services.cost.client budget tenants/acme 25 --period monthly --hard
    python -m services.cost.client alerts

It prints responses as JSON (proto3 JSON mapping; money in nanos of its currency). Errors
print the status and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.money import NANOS_PER_UNIT
from svckit.channels import service_channel

DIMENSIONS = [
    value.name.removeprefix("SPEND_DIMENSION_").lower()
    for value in pb.SpendDimension.DESCRIPTOR.values
    if value.number  # not UNSPECIFIED
]
PERIODS = ["daily", "weekly", "monthly"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.cost.client")
    parser.add_argument("--address", default="127.0.0.1:50052")
    commands = parser.add_subparsers(dest="command", required=True)
    spend = commands.add_parser("spend", help="spend and tokens over the last days")
    spend.add_argument("--group-by", nargs="*", choices=DIMENSIONS, default=[])
    spend.add_argument("--days", type=int, default=30)
    price = commands.add_parser("price", help="a model's price now")
    price.add_argument("provider")
    price.add_argument("model")
    budgets = commands.add_parser("budgets", help="budgets and their current period")
    budgets.add_argument("--scope", default="")
    budget = commands.add_parser("budget", help="create a budget")
    budget.add_argument("scope", help="tenants/{id}, users/{tenant}:{user} or keys/{id}")
    budget.add_argument("limit", type=Decimal, help="in currency units, e.g. 25.50")
    budget.add_argument("--currency", default="USD")
    budget.add_argument("--period", choices=PERIODS, default="monthly")
    budget.add_argument("--time-zone", default="")
    budget.add_argument("--model", default="")
    budget.add_argument("--hard", action="store_true")
    budget.add_argument("--thresholds", nargs="*", type=int, default=[50, 80, 100])
    commands.add_parser("alerts", help="alerts raised, newest first")
    return parser


def _since(days: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) - timedelta(days=days))
    return stamp


async def _call(args: argparse.Namespace, stub: pb_grpc.CostServiceStub) -> Any:
    if args.command == "spend":
        group_by = [f"SPEND_DIMENSION_{d.upper()}" for d in args.group_by]
        return await stub.GetSpend(pb.GetSpendRequest(start=_since(args.days), group_by=group_by))
    if args.command == "price":
        return await stub.GetPrice(pb.GetPriceRequest(provider=args.provider, model=args.model))
    if args.command == "budgets":
        return await stub.ListBudgets(pb.ListBudgetsRequest(scope=args.scope))
    if args.command == "alerts":
        return await stub.ListAlerts(pb.ListAlertsRequest())
    budget = pb.Budget(
        scope=args.scope,
        model=args.model,
        period=f"BUDGET_PERIOD_{args.period.upper()}",
        time_zone=args.time_zone,
        limit=pb.Money(currency_code=args.currency, nanos=int(args.limit * NANOS_PER_UNIT)),
        hard=args.hard,
        thresholds=args.thresholds,
    )
    return await stub.CreateBudget(pb.CreateBudgetRequest(budget=budget))


async def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    async with service_channel(args.address) as channel:
        try:
            reply = await _call(args, pb_grpc.CostServiceStub(channel))
        except grpc.aio.AioRpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(MessageToJson(reply, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
