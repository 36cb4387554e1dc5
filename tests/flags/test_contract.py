"""The admin contract: every RPC of switchboard.flags.v1 is a REST route the gateway can serve
(its transcoder reads the google.api.http annotations and checks every field path)."""

from __future__ import annotations

from switchboard.flags.v1 import flags_service_pb2 as pb

from gateway.transcoding.http_rules import routes_of


def test_every_admin_rpc_has_a_servable_http_route() -> None:
    service = pb.DESCRIPTOR.services_by_name["FlagsService"]

    routes = routes_of(service)

    assert {route.method.name for route in routes} == {m.name for m in service.methods}
