"""grpc-echo server: answers Echo calls with its instance name and serves grpc.health.v1.

Env:
  GRPC_ADDRESS                      address to listen on (default 0.0.0.0)
  GRPC_PORT                         port to listen on (default 50051)
  INSTANCE_NAME                     name put in every reply (default POD_NAME, else the host name)
  GRPC_MAX_CONNECTION_AGE_MS        close client connections after this age so clients
                                    re-resolve and spread again (default: unset = never)
  GRPC_MAX_CONNECTION_AGE_GRACE_MS  time in-flight calls get after that (default: unset)
SIGTERM/SIGINT: health turns NOT_SERVING, then the server stops with a 5 s grace.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_proto import SERVICE, EchoReply, EchoRequest

log = logging.getLogger("grpc-echo")


def instance_name() -> str:
    return os.environ.get("INSTANCE_NAME") or os.environ.get("POD_NAME") or socket.gethostname()


def server_options() -> list[tuple[str, int]]:
    options: list[tuple[str, int]] = []
    for env, option in (
        ("GRPC_MAX_CONNECTION_AGE_MS", "grpc.max_connection_age_ms"),
        ("GRPC_MAX_CONNECTION_AGE_GRACE_MS", "grpc.max_connection_age_grace_ms"),
    ):
        value = os.environ.get(env, "").strip()
        if value:
            if not value.isdigit():
                raise SystemExit(f"grpc-echo: {env} must be milliseconds (got {value!r})")
            options.append((option, int(value)))
    return options


def echo_handler(name: str) -> grpc.GenericRpcHandler:
    def echo(request: EchoRequest, context: grpc.ServicerContext) -> EchoReply:
        return EchoReply(message=request.message, instance=name)

    method = grpc.unary_unary_rpc_method_handler(
        echo,
        request_deserializer=EchoRequest.decode,
        response_serializer=EchoReply.encode,
    )
    return grpc.method_handlers_generic_handler(SERVICE, {"Echo": method})


def serve() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    name = instance_name()
    address = os.environ.get("GRPC_ADDRESS", "0.0.0.0")
    port = os.environ.get("GRPC_PORT", "50051")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=server_options())
    server.add_generic_rpc_handlers((echo_handler(name),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for service in ("", SERVICE):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    bound = server.add_insecure_port(f"{address}:{port}")
    if not bound:
        raise SystemExit(f"grpc-echo: cannot listen on {address}:{port}")
    server.start()
    log.info("instance %s serving on %s:%s", name, address, bound)

    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: not serving any more, stopping", signum)
        health_servicer.enter_graceful_shutdown()
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    serve()
