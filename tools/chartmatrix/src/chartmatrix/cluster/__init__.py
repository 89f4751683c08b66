"""The local control plane for install tests: ``chartmatrix cluster up|down|status``.

Binaries come from ``tools/bootstrap --cluster``; state lives in ``.tools/cluster``.
The CLI wiring is :func:`chartmatrix.cluster.cli.register`.
"""
