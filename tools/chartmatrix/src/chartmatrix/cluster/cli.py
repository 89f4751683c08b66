"""CLI wiring for ``chartmatrix cluster up|down|status`` (and ``chartmatrix install``).

``register(subparsers)`` adds the subcommands to chartmatrix's argparse CLI; each
sets ``func`` to a callable taking the parsed namespace and returning the exit
code. ``python -m chartmatrix.cluster ...`` runs them without the main CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chartmatrix.cluster.control_plane import ControlPlane
from chartmatrix.errors import ChartmatrixError

REAL_NODE = "real"


def _up(args: argparse.Namespace) -> int:
    plane = ControlPlane()
    real = args.nodes == REAL_NODE
    plane.up(
        nodes=1 if real else args.nodes,
        timeout=args.timeout,
        gateway_api=args.gateway_api,
        real_node=real,
    )
    print(f"export KUBECONFIG={plane.layout.kubeconfig}")
    return 0


def node_count(value: str) -> int | str:
    """``--nodes``: a count of kwok nodes or ``real``."""
    if value == REAL_NODE:
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of kwok nodes or '{REAL_NODE}' (got {value!r})"
        ) from None


def _down(args: argparse.Namespace) -> int:
    ControlPlane().down(purge=args.purge)
    return 0


def _status(args: argparse.Namespace) -> int:
    status = ControlPlane().status()
    print("\n".join(status.lines()))
    return 0 if status.up else 3


def add_cluster_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cluster = subparsers.add_parser(
        "cluster", help="run a local control plane (etcd, kube-apiserver, ..., kwok nodes)"
    )
    sub = cluster.add_subparsers(dest="cluster_command", required=True)
    up = sub.add_parser("up", help="start it and write .tools/cluster/kubeconfig")
    up.add_argument(
        "--nodes",
        type=node_count,
        default=3,
        metavar="N|real",
        help="N kwok nodes (default 3), or 'real': one real node running containers "
        "(kubelet, containerd, kube-proxy, CoreDNS; root on Linux)",
    )
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait (default 180)")
    up.add_argument(
        "--gateway-api",
        choices=("experimental", "standard", "none"),
        default="experimental",
        help="Gateway API CRD channel to install (default experimental, a superset of standard)",
    )
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop every component")
    down.add_argument(
        "--purge", action="store_true", help="also delete certificates, logs and state"
    )
    down.set_defaults(func=_down)
    status = sub.add_parser("status", help="show components, API server and nodes (exit 3 if down)")
    status.set_defaults(func=_status)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``cluster`` and ``install`` to chartmatrix's subcommands."""
    from chartmatrix.cluster.install_cli import add_install_parser

    add_cluster_parser(subparsers)
    add_install_parser(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chartmatrix")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ChartmatrixError as exc:
        print(exc.line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
