"""grpc-echo server: answers Echo calls with its instance name and serves grpc.health.v1.

Env:
  GRPC_ADDRESS                      address to listen on (default 0.0.0.0)
  GRPC_PORT                         port to listen on (default 50051)
  INSTANCE_NAME                     name put in every reply (default POD_NAME, else the host name)
  GRPC_MAX_CONNECTION_AGE_MS        close client connections after this age so clients
                                    re-resolve and spread again (default: unset = never)
  GRPC_MAX_CONNECTION_AGE_GRACE_MS  time in-flight calls get after that (default: unset)
  GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE
                                    serve TLS on GRPC_PORT with this PEM certificate (chain)
                                    and key (default: unset = plaintext h2c); a renewed pair is
                                    picked up by the next new connection, no restart needed
  GRPC_HEALTH_PORT                  also serve grpc.health.v1 alone, in plaintext, on this port
                                    (for kubelet gRPC probes, which cannot speak TLS)
Flags --tls-cert, --tls-key and --health-port win over these variables.
SIGTERM/SIGINT: health turns NOT_SERVING, then the server stops with a 5 s grace.
"""

from __future__ import annotations

import argparse
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


class TlsFiles:
    """The server certificate and key, read again whenever either file changes (a Secret
    volume swaps both at once when the certificate is renewed)."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self.stamp: tuple[float, float] | None = None

    def _load(self) -> grpc.ServerCertificateConfiguration:
        with open(self.key_file, "rb") as key, open(self.cert_file, "rb") as cert:
            pair = (key.read(), cert.read())
        return grpc.ssl_server_certificate_configuration([pair])

    def _mtimes(self) -> tuple[float, float]:
        return os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime

    def initial(self) -> grpc.ServerCertificateConfiguration:
        try:
            self.stamp = self._mtimes()
            return self._load()
        except OSError as err:
            raise SystemExit(f"grpc-echo: cannot read the TLS certificate or key: {err}") from err

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each new TLS handshake: a new pair, or None (keep)."""
        try:
            stamp = self._mtimes()
            if stamp == self.stamp:
                return None
            config = self._load()
        except OSError:
            return None  # in the middle of a swap: keep serving the current pair
        log.info("TLS certificate changed on disk: using the new one for new connections")
        self.stamp = stamp
        return config

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(self.initial(), self.fetch)


def tls_files(cert_file: str, key_file: str) -> TlsFiles | None:
    if bool(cert_file) != bool(key_file):
        raise SystemExit("grpc-echo: TLS needs both --tls-cert and --tls-key (or neither)")
    return TlsFiles(cert_file, key_file) if cert_file else None


def echo_handler(name: str) -> grpc.GenericRpcHandler:
    def echo(request: EchoRequest, context: grpc.ServicerContext) -> EchoReply:
        return EchoReply(message=request.message, instance=name)

    method = grpc.unary_unary_rpc_method_handler(
        echo,
        request_deserializer=EchoRequest.decode,
        response_serializer=EchoReply.encode,
    )
    return grpc.method_handlers_generic_handler(SERVICE, {"Echo": method})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls-cert", default=env("GRPC_TLS_CERT_FILE", ""), help="PEM file")
    parser.add_argument("--tls-key", default=env("GRPC_TLS_KEY_FILE", ""), help="PEM file")
    parser.add_argument("--health-port", default=env("GRPC_HEALTH_PORT", ""))
    return parser.parse_args(argv)


def listen(server: grpc.Server, where: str, creds: grpc.ServerCredentials | None) -> int:
    bound = server.add_secure_port(where, creds) if creds else server.add_insecure_port(where)
    if not bound:
        raise SystemExit(f"grpc-echo: cannot listen on {where}")
    return bound


def serve(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    name = instance_name()
    address = os.environ.get("GRPC_ADDRESS", "0.0.0.0")
    port = os.environ.get("GRPC_PORT", "50051")
    tls = tls_files(args.tls_cert, args.tls_key)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=server_options())
    server.add_generic_rpc_handlers((echo_handler(name),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for service in ("", SERVICE):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    bound = listen(server, f"{address}:{port}", tls.credentials() if tls else None)
    servers = [server]
    if args.health_port:
        # health only, never the Echo service: the plaintext port reveals nothing else
        probes = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, probes)
        health_bound = listen(probes, f"{address}:{args.health_port}", None)
        servers.append(probes)
        log.info("health (plaintext) on %s:%s", address, health_bound)
    for each in servers:
        each.start()
    log.info("instance %s serving %s on %s:%s", name, "TLS" if tls else "h2c", address, bound)

    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: not serving any more, stopping", signum)
        health_servicer.enter_graceful_shutdown()
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    for event in [each.stop(grace=5) for each in servers]:
        event.wait()


if __name__ == "__main__":
    serve()
