"""Spend reports through gRPC, against a real cost server on port 0: a report above gRPC's
default 4 MiB receive limit reaches our services' channels (`svckit.channels`), and one above
the report's byte bound is refused with a reason the caller can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry
from sqlalchemy import insert
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.app import CostService, build
from services.cost.database import create_engine
from services.cost.reports.spend import SpendReport
from services.cost.servicer import SERVICE_NAME, CostServicer
from services.cost.settings import CostSettings
from services.cost.tables import NAME, spend_daily
from svckit.channels import service_channel
from svckit.errors import FailedPrecondition
from svckit.server import Registration, create_server
from tests.cost.cost_calls import at
from tests.cost.reports.conftest import utc

DEFAULT_RECEIVE_LIMIT = 4 * 1024 * 1024
SUBJECTS = 18_000
"""Groups of one day and one subject of the longest name kept: about 5 MB as a reply."""
DAY = date(2024, 3, 1)


def rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "day": DAY,
            "tenant": "acme",
            "subject": f"{i:06d}".ljust(NAME, "s"),
            "model": "gpt-4o-mini",
            "endpoint": "chat",
            "prompt_name": "",
            "prompt_version": 0,
            "currency": "USD",
            "cost_nanos": 123_456_789,
            "input_tokens": 1000,
            "output_tokens": 200,
            "cached_tokens": 0,
            "requests": 3,
            "unpriced_requests": 0,
            "latency_ms": 900,
        }
        for i in range(count)
    ]


def query() -> pb.GetSpendRequest:
    return pb.GetSpendRequest(
        start=at(utc(DAY)), end=at(utc(date(2024, 3, 2))), group_by=[pb.SPEND_DIMENSION_SUBJECT]
    )


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[CostService, int]]:
    service = build(CostSettings(sqlite_path=tmp_path / "cost.sqlite3"), environ={})
    server = create_server(service.app)
    await server.start()
    try:
        yield service, server.port
    finally:
        await server.stop(grace=0)


async def test_a_report_above_grpcs_default_limit_reaches_our_channels(
    started: tuple[CostService, int],
) -> None:
    service, port = started
    async with service.parts.engine.begin() as conn:
        await conn.execute(insert(spend_daily), rows(SUBJECTS))
    async with service_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.CostServiceStub(channel)
        spend = await stub.GetSpend(query())
        exported = await stub.ExportSpend(pb.ExportSpendRequest(query=query()))
    assert len(spend.rows) == SUBJECTS
    assert spend.ByteSize() > DEFAULT_RECEIVE_LIMIT
    assert exported.data.count(b"\r\n") == SUBJECTS + 1  # the header and a line a group


async def test_a_reply_above_the_byte_bound_is_refused_with_its_reason(
    started: tuple[CostService, int],
) -> None:
    service, _ = started
    async with service.parts.engine.begin() as conn:
        await conn.execute(insert(spend_daily), rows(20))
    small = replace(service.parts, report=SpendReport(service.parts.engine, max_bytes=2000))
    servicer = CostServicer(small)
    app = replace(
        service.app,
        registrations=[
            Registration(
                SERVICE_NAME, lambda s: pb_grpc.add_CostServiceServicer_to_server(servicer, s)
            )
        ],
        registry=CollectorRegistry(),
        on_start=[],
        on_drain=[],
        on_stop=[],
    )
    bounded = create_server(app)
    await bounded.start()
    try:
        async with service_channel(f"127.0.0.1:{bounded.port}") as channel:
            stub = pb_grpc.CostServiceStub(channel)
            for call in (
                stub.GetSpend(query()),
                stub.ExportSpend(pb.ExportSpendRequest(query=query())),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await call
                assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert _reason(raised.value) == "SPEND_REPORT_TOO_LARGE"
                assert "narrow the range" in (raised.value.details() or "")
    finally:
        await bounded.stop(grace=0)


def test_check_size_refuses_only_above_the_bound(tmp_path: Path) -> None:
    report = SpendReport(create_engine(f"sqlite+aiosqlite:///{tmp_path}/unused"), max_bytes=100)
    report.check_size(100)
    with pytest.raises(FailedPrecondition) as raised:
        report.check_size(101)
    assert raised.value.reason == "SPEND_REPORT_TOO_LARGE"
    assert raised.value.metadata == {"max_bytes": "100"}


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""
