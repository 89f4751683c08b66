"""Helm value overrides that point each chart at the local images (and nothing else).

The charts are installed on the real node with these --set values only: no chart
changes for the test node. pullPolicy Never makes a missing image an immediate,
named error (ErrImageNeverPull) instead of a pull attempt.
"""

from __future__ import annotations

from .errors import ImageError
from .specs import REGISTRY

PULL_POLICY = "Never"


def chart_overrides(envoy_version: str) -> dict[str, dict[str, str]]:
    """chart name -> {dotted value path: value}. mysql's are for values with
    flavor: mariadb (e.g. ci/mariadb-values.yaml): Oracle MySQL has no stand-in."""

    def image(prefix: str, name: str, tag: str) -> dict[str, str]:
        return {
            f"{prefix}image.repository": f"{REGISTRY}/{name}",
            f"{prefix}image.tag": tag,
            f"{prefix}image.pullPolicy": PULL_POLICY,
        }

    return {
        "mysql": image("", "mariadb", "10.11"),
        "redis": image("", "redis", "7.0"),
        "web-session": {
            **image("", "session-app", "0.1.0"),
            **image("session.store.redis.", "redis", "7.0"),
        },
        "grpc": {
            **image("", "grpc-echo", "0.1.0"),
            **image("connection.envoy.", "envoy", f"v{envoy_version}"),
        },
    }


def helm_set_args(chart: str, envoy_version: str) -> list[str]:
    """["--set-string", "path=value", ...] for chart (a name under charts/); strings,
    since --set would read the tag 7.0 as the number 7."""
    overrides = chart_overrides(envoy_version)
    if chart not in overrides:
        raise ImageError(
            f"no image overrides for chart {chart!r} (known: {', '.join(sorted(overrides))})"
        )
    return [
        arg
        for path, value in overrides[chart].items()
        for arg in ("--set-string", f"{path}={value}")
    ]
