"""Small charts written from Python for chartmatrix's own tests."""

from __future__ import annotations

from pathlib import Path

import yaml

STATEFUL_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: kv\nversion: 0.1.0\n",
    "values.yaml": """\
replicas: 3
serviceName: ""
config: {app.conf: "port=1"}
image: registry.example/kv:1.0
pdb: true
""",
    "templates/sts.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-kv
  labels: {app: kv, helm.sh/chart: kv-{{ .Chart.Version }}}
spec:
  replicas: {{ .Values.replicas }}
  serviceName: {{ .Values.serviceName | default (printf "%s-kv-headless" .Release.Name) }}
  selector:
    matchLabels: {app: kv}
  template:
    metadata:
      labels: {app: kv}
      annotations:
        checksum/config: {{ .Values.config | toJson | sha256sum }}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector: {matchLabels: {app: kv}}
      containers:
        - name: kv
          image: {{ .Values.image }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: config, mountPath: /etc/kv}
            - {name: data, mountPath: /data}
      volumes:
        - name: config
          configMap: {name: {{ .Release.Name }}-kv}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
""",
    "templates/svc.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-kv-headless
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: kv}
  ports: [{name: kv, port: 7000}]
""",
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-kv
data:
  {{- toYaml .Values.config | nindent 2 }}
""",
    "templates/pdb.yaml": """\
{{- if .Values.pdb }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}-kv
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: kv}
{{- end }}
""",
    "templates/guard.yaml": """\
{{- if lt (int .Values.replicas) 0 }}
{{- fail (printf "kv: replicas must be >= 0 (got %d)" (int .Values.replicas)) }}
{{- end }}
""",
}


def write_tree(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = base / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return base


# A template for a `helm create` chart: a Service whose port is not an integer (a
# schema/invalid error on the `port:` line), for the action and pre-commit tests.
BROKEN_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-broken
spec:
  selector: {app.kubernetes.io/name: demo}
  ports:
    - port: "eighty"
"""


# A must-fail case of STATEFUL_CHART's spec (its guard template fails the render).
NEGATIVE_REPLICAS = {
    "name": "negative",
    "set": {"replicas": -1},
    "message": "replicas must be >= 0",
}


def write_spec(root: Path, chart: str, spec: dict[str, object]) -> Path:
    """``root/chart_tests/<chart>/matrix.yaml`` (the chart in ``root/charts/<chart>``)."""
    file = root / "chart_tests" / chart / "matrix.yaml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return file
