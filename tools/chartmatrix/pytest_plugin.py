"""pytest plugin for chartmatrix (registered through the ``pytest11`` entry point).

Fixtures for hand-written chart tests
-------------------------------------
``render_chart`` (session scope) renders a chart with values and returns a
:class:`chartmatrix.manifests.Rendered`::

    def test_replicas(render_chart):
        out = render_chart("mysql", {"workload": {"replicas": 3}})
        #   chart: a path (absolute, or relative to the rootdir) or a bare name found
        #          under charts/<name> or chart_tests/<name>/chart
        #   values: one dict, or a list of dicts layered with Helm's rules
        #   keywords: release="test", namespace="default", kube_version=None,
        #             api_versions=() (Capabilities flags)
        sts = out.get("StatefulSet", "test-mysql")        # one object (KeyError names the
                                                          # rendered names when missing)
        assert out.get("StatefulSet")["spec"]["replicas"] == 3   # the only one of its kind
        assert len(out.of_kind("Service")) == 2           # list of dicts
        assert out.query("StatefulSet", "test-mysql",
                         "spec.template.spec.containers[name=mysql].image") == "mysql:8.4"
        assert out.query("StatefulSet", None,
                         'spec.template.metadata.annotations["checksum/config"]')
        out.all                                           # every object, helm's order
        out.has("PodDisruptionBudget")

    def test_bad_replicas(render_chart):
        msg = render_chart.error("mysql", {"workload": {"replicas": -1}})
        assert "workload.replicas must be >= 0" in msg

A failed render raises ``chartmatrix.fixtures.RenderFailed`` (an AssertionError) with
helm's message. ``manifest_query(obj, path)`` is the path query as a fixture.
Charts are staged once per session (``file://`` dependencies vendored fresh).

Matrix cases
------------
Every ``chart_tests/<chart>/matrix.yaml`` is collected: each case is its own test item
(``<chart>::<case id>``), so ``-k 'replicas=3'`` selects cases.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import query


@pytest.fixture(scope="session")
def render_chart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ChartRenderer:
    """Render a chart with values; see the module docstring."""
    root = Path(str(request.config.rootpath))
    return ChartRenderer(root, tmp_path_factory.mktemp("chartmatrix-stage"))


@pytest.fixture(scope="session")
def manifest_query() -> Callable[..., Any]:
    """``manifest_query(obj, "spec.template.spec.containers[0].image")``."""
    return query
