"""grpc-echo client: makes N calls over ONE channel and counts which instance answered.

  python client.py TARGET [--calls N] [--lb pick_first|round_robin] [--check-health]
                         [--ca CA.crt [--server-name NAME]]

TARGET is any gRPC target: `host:port`, `dns:///NAME.NS.svc.cluster.local:50051`, an Envoy
listener, ... With `--lb round_robin` and a headless Service name the client balances by
itself; with the default pick_first every call goes over one connection to one backend.
With --ca the channel uses TLS and accepts only a server certificate from that CA.
Prints one line per instance (`instance count`) and exits 1 when any call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_proto import METHOD, EchoReply, EchoRequest


def channel(
    target: str, lb_policy: str = "pick_first", ca_file: str = "", server_name: str = ""
) -> grpc.Channel:
    """A channel to `target`; with `ca_file` over TLS, trusting only that CA and checking the
    server's certificate for `server_name` (default: the target's host name)."""
    config = {"loadBalancingConfig": [{lb_policy: {}}]}
    options: list[tuple[str, str]] = [("grpc.service_config", json.dumps(config))]
    if not ca_file:
        return grpc.insecure_channel(target, options=options)
    with open(ca_file, "rb") as ca:
        creds = grpc.ssl_channel_credentials(root_certificates=ca.read())
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, creds, options=options)


def echo(chan: grpc.Channel, message: str, timeout: float = 5.0) -> EchoReply:
    call = chan.unary_unary(
        METHOD, request_serializer=EchoRequest.encode, response_deserializer=EchoReply.decode
    )
    return call(EchoRequest(message=message), timeout=timeout)


def health(chan: grpc.Channel, service: str = "", timeout: float = 5.0) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(chan)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def distribution(chan: grpc.Channel, calls: int) -> tuple[Counter[str], int]:
    """Make `calls` calls over `chan`; return (answers per instance, failed calls)."""
    seen: Counter[str] = Counter()
    failed = 0
    for i in range(calls):
        try:
            seen[echo(chan, f"call {i}").instance] += 1
        except grpc.RpcError:
            failed += 1
    return seen, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--lb", default="pick_first", choices=["pick_first", "round_robin"])
    parser.add_argument("--check-health", action="store_true", help="ask grpc.health.v1 first")
    parser.add_argument("--ca", default="", help="TLS: trust this CA (PEM); default plaintext")
    parser.add_argument("--server-name", default="", help="TLS: name the certificate must have")
    args = parser.parse_args(argv)
    with channel(args.target, args.lb, args.ca, args.server_name) as chan:
        if args.check_health:
            print(f"health {health(chan)}")
        seen, failed = distribution(chan, args.calls)
    for name, count in sorted(seen.items()):
        print(f"{name} {count}")
    if failed:
        print(f"failed {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
