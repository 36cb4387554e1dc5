"""Client channels from one of our processes to another of our services.

In the cluster each gRPC service sits behind a headless Service, so a target such as
`dns:///cost:50052` resolves to the address of every ready replica. gRPC's default policy,
pick_first, would send all of a client's calls to one of them for the life of the connection;
`round_robin` keeps a connection to each address and spreads calls over them. A target that
names one address behaves as before.

Replicas added later are found when the client resolves the name again, which it does when a
connection closes: servers bound with `svckit.server.create_server` close each connection after
`MAX_CONNECTION_AGE_SECONDS` (letting its calls finish), so new replicas get traffic within
that time.

Messages up to `MAX_RECEIVE_MESSAGE_BYTES` (20 MiB) are received, not gRPC's default 4 MiB: the
largest replies between our services are cost's spend reports, which the cost service bounds
at 16 MiB encoded (`services.cost.reports.spend.MAX_REPORT_BYTES`) and refuses above that. Our
servers send messages of any size (gRPC's default) and receive requests up to 4 MiB.
"""

from __future__ import annotations

import json

import grpc

ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
"""The service config every channel to our services carries."""
MAX_RECEIVE_MESSAGE_BYTES = 20 * 1024 * 1024
"""Largest message our channels receive: above the largest reply our services send."""


def service_channel(target: str) -> grpc.aio.Channel:
    """A plaintext grpc.aio channel to `target` that spreads calls over every address it
    resolves to and receives messages up to `MAX_RECEIVE_MESSAGE_BYTES`."""
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", ROUND_ROBIN),
            ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
        ],
    )


__all__ = ["MAX_RECEIVE_MESSAGE_BYTES", "ROUND_ROBIN", "service_channel"]
