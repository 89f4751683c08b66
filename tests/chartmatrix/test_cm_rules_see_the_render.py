"""Rules check the render as helm renders it: the masks of golden files (the
``helm.sh/chart`` label, the spec's ``mask:`` entries) never reach them."""

from __future__ import annotations

from pathlib import Path

import pytest
from chartmatrix.report.model import to_dict
from chartmatrix.runner import Options, Runner
from chartmatrix.spec import load_spec
from cm_charts import write_spec, write_tree

LABELS = """\
app.kubernetes.io/name: web
helm.sh/chart: web-0.1.0
"""
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "values.yaml": "replicas: 3\n",
    "templates/web.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: {{ .Values.replicas }}
  serviceName: web
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web, helm.sh/chart: web-0.1.0}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: web
          image: registry.example/web:1.0.0
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          resources: {limits: {memory: 64Mi}, requests: {cpu: 10m, memory: 64Mi}}
---
# a selector that names the chart label: it picks the pods above
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app.kubernetes.io/name: web, helm.sh/chart: web-0.1.0}
  ports: [{name: http, port: 80}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {helm.sh/chart: web-0.1.0}
---
# a name that varies, masked in the golden files; its image has no tag
apiVersion: v1
kind: Pod
metadata:
  name: web-test-{{ randAlphaNum 5 | lower }}
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: t
      image: registry.example/tester
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}
      resources: {limits: {memory: 64Mi}, requests: {cpu: 10m, memory: 64Mi}}
""",
}


@pytest.mark.parametrize("golden", [True, False])
def test_rules_read_labels_and_names_as_rendered(
    golden: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    write_tree(tmp_path / "charts" / "web", CHART)
    spec: dict[str, object] = {"golden": golden}
    if golden:
        spec["mask"] = [{"kind": "Pod", "name": "web-test-*", "path": "metadata.name"}]
    spec_file = write_spec(tmp_path, "web", spec)
    (case,) = to_dict(Runner(Options()).run([load_spec(spec_file)]))["charts"][0]["cases"]
    findings = [f for check in case["checks"].values() for f in check["findings"]]
    rules = {f["rule"] for f in findings}
    assert "service/selector-matches" not in rules, findings
    assert "topology/pdb" not in rules, findings
    (tag,) = [f for f in findings if f["rule"] == "hardening/image-tag"]
    assert tag["resource"].startswith("Pod/web-test-") and "<masked>" not in tag["resource"]
    assert case["golden"] is None or case["golden"]["status"] == "written"
