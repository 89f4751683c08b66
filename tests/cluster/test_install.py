"""``chartmatrix install`` on the local control plane: the consumer charts' ci values
install, pass ``helm test`` and uninstall cleanly in restricted namespaces; broken
charts fail with the step, the events and the failing object."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chartmatrix.cluster.install import Case, Installer, discover_cases
from chartmatrix.cluster.layout import CONTEXT
from chartmatrix.project import find_root
from destate_tools.charts import consumer_charts

pytestmark = pytest.mark.cluster
ROOT = find_root(Path(__file__).parent)


def _ci_cases() -> list[Case]:
    """The ci values of every consumer chart (discovered: a new chart is installed too)."""
    return [
        case for chart in consumer_charts(ROOT) for case in discover_cases(ROOT / "charts" / chart)
    ]


@pytest.fixture
def installer(cluster) -> Installer:
    return Installer(cluster.kube, cluster.helm, timeout=120)


@pytest.mark.parametrize("case", _ci_cases(), ids=lambda c: c.case_id)
def test_ci_values_install_test_and_uninstall_cleanly(installer: Installer, case: Case) -> None:
    result = installer.run(case)
    assert result.ok, result.report()
    assert [s.name for s in result.steps] == [
        "namespace",
        "install",
        "ready",
        "test",
        "uninstall",
        "leftovers",
    ]
    for kept in result.retained:  # only claims (or objects a chart asks helm to keep)
        assert "PersistentVolumeClaim/" in kept or "resource-policy" in kept, kept


def _chart(root: Path, name: str, templates: dict[str, str]) -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text)
    return chart


PRIVILEGED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-priv}
spec:
  replicas: 1
  selector: {matchLabels: {app: priv}}
  template:
    metadata: {labels: {app: priv}}
    spec:
      containers:
        - name: app
          image: busybox:1.37
          securityContext: {privileged: true}
"""

LEAKY_HOOK = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook-output
  annotations: {"helm.sh/hook": post-install}
data: {a: b}
"""


def test_restricted_namespace_rejects_a_privileged_pod(cluster, tmp_path: Path) -> None:
    chart = _chart(tmp_path, "priv", {"deploy.yaml": PRIVILEGED})
    result = Installer(cluster.kube, cluster.helm, timeout=8).run(Case(chart, "priv", None))
    assert not result.ok
    assert result.failure is not None and result.failure.name in ("install", "ready")
    report = result.report()
    assert "PodSecurity" in report and "restricted" in report  # the event says why
    assert "Deployment" in report  # the failing object is shown


def test_leftovers_after_uninstall_fail_the_case(installer: Installer, tmp_path: Path) -> None:
    chart = _chart(tmp_path, "leaky", {"hook.yaml": LEAKY_HOOK})
    result = installer.run(Case(chart, "leaky", None))
    assert result.failure is not None and result.failure.name == "leftovers"
    assert "ConfigMap/leaky-hook-output" in result.failure.detail


def test_cli_install_with_upgrade_and_junit(cluster, tmp_path: Path) -> None:
    junit = tmp_path / "install.xml"
    argv = [
        sys.executable,
        "-m",
        "chartmatrix.cluster",
        "install",
        str(ROOT / "charts" / "grpc"),
        "--kubeconfig",
        str(cluster.plane.layout.kubeconfig),
        "--kube-context",
        CONTEXT,
        "--helm",
        cluster.helm,
        "--upgrade",
        "--ref",
        "HEAD",
        "--junit",
        str(junit),
        "--timeout",
        "120",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert int(suite.get("tests") or 0) == len(discover_cases(ROOT / "charts" / "grpc"))
    # every ci file already at HEAD was installed old, tested, upgraded and tested again
    assert "test (old)=" in done.stdout and "upgrade=" in done.stdout, done.stdout


def test_cli_without_a_cluster_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHARTMATRIX_CLUSTER_DIR", str(tmp_path))
    argv = [sys.executable, "-m", "chartmatrix.cluster", "install", str(ROOT / "charts" / "grpc")]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "chartmatrix: no cluster: run `chartmatrix cluster up`, or pass --kube-context/--kubeconfig"
    ]


STATEFULSET = """\
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-hl}
spec:
  clusterIP: None
  selector: {app: store}
  ports: [{name: tcp, port: 7000}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: {{ .Release.Name }}}
spec:
  serviceName: {{ .Release.Name }}-hl
  replicas: 1
  selector: {matchLabels: {app: store}}
  template:
    metadata: {labels: {app: store}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: busybox:1.37
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: {{ .Values.size }}}}
"""


def test_upgrade_catches_an_immutable_statefulset_change(installer: Installer, tmp_path) -> None:
    old = _chart(tmp_path / "old", "store", {"sts.yaml": STATEFULSET})
    new = _chart(tmp_path / "new", "store", {"sts.yaml": STATEFULSET})
    (old / "values.yaml").write_text("size: 1Gi\n")
    (new / "values.yaml").write_text("size: 2Gi\n")  # volumeClaimTemplates are immutable
    result = installer.run(Case(new, "store", None, old_chart_dir=old))
    names = [(s.name, s.ok) for s in result.steps]
    assert names[:4] == [
        ("namespace", True),
        ("install (old)", True),
        ("ready (old)", True),
        ("test (old)", True),
    ]
    assert result.failure is not None and result.failure.name == "upgrade"
    assert "Forbidden" in result.failure.detail and "StatefulSet" in result.failure.detail
