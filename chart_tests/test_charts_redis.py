"""What charts/redis renders means beyond its golden files: the password and its pods."""

from __future__ import annotations

from pathlib import Path

from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered

CHART = Path(__file__).resolve().parents[1] / "charts" / "redis"


def _pod_annotations(out: Rendered) -> dict[str, str]:
    (sts,) = out.of_kind("StatefulSet")
    return sts["spec"]["template"]["metadata"]["annotations"]


def test_a_new_password_rolls_every_pod(render_chart: ChartRenderer) -> None:
    # requirepass and masterauth are read at start: a pod left running keeps the old one
    # while the pods that restart later get the new one, and replication splits
    before = _pod_annotations(render_chart(CHART, {"auth": {"password": "first-passw0rd"}}))
    after = _pod_annotations(render_chart(CHART, {"auth": {"password": "second-passw0rd"}}))
    assert before["checksum/secret"] != after["checksum/secret"]
    assert before["checksum/scripts"] == after["checksum/scripts"]
    # a Secret the user manages is the user's to roll
    mine = _pod_annotations(render_chart(CHART, {"auth": {"existingSecret": "mine"}}))
    assert "checksum/secret" not in mine
