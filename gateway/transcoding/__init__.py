"""REST for every admin RPC, transcoded from the services' `google.api.http` annotations.

    table = routes_of_services([cost_pb.DESCRIPTOR.services_by_name["CostService"], ...])
    app = TranscodingRouter(table, {"switchboard.cost.v1.CostService": channel, ...})
    document = merge(build_document(table), openai_paths)

`http_rules` reads the annotations into routes, `request_mapping` builds request messages,
`proxy` serves the routes over gRPC, `status_map` is the one gRPC-to-HTTP status table and the
error body, `openapi` documents the same routes.
"""

from gateway.transcoding.http_rules import Route, RouteTable, routes_of, routes_of_services
from gateway.transcoding.openapi import build_document, merge, render_json, render_yaml
from gateway.transcoding.proto_comments import Comments
from gateway.transcoding.proxy import TranscodingRouter
from gateway.transcoding.status_map import HTTP_STATUS, http_status

__all__ = [
    "HTTP_STATUS",
    "Comments",
    "Route",
    "RouteTable",
    "TranscodingRouter",
    "build_document",
    "http_status",
    "merge",
    "render_json",
    "render_yaml",
    "routes_of",
    "routes_of_services",
]
