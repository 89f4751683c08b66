"""The local control plane for install tests: ``chartmatrix cluster up|down|status``.

Binaries come from ``tools/bootstrap --cluster``; state lives in ``.tools/cluster``.
"""

from chartmatrix.cluster.cli import register

__all__ = ["register"]
