"""What kwok simulates: the fake nodes and the Stages that move nodes and pods along.

kwok plays the kubelet for nodes labelled ``chartmatrix.local/kwok=true``. The Stages:

- ``node-initialize``: a new node reports Ready with addresses, capacity and node info;
- ``node-heartbeat``: Ready nodes refresh their conditions now and then (kwok renews
  their Leases in between, which is what the node lifecycle controller watches);
- ``pod-ready``: a scheduled pod runs: every container started and ready, pod IP set;
- ``pod-complete``: a running pod of a Job, or a ``helm test`` hook pod, exits 0
  (phase Succeeded), so Jobs finish and ``helm test`` passes;
- ``pod-delete``: a pod being deleted is removed (no kubelet would otherwise do it).
"""

from __future__ import annotations

from typing import Any

import yaml

NODE_LABEL = "chartmatrix.local/kwok"
NODE_SELECTOR = f"{NODE_LABEL}=true"
HELM_TEST_HOOKS = ("test", "test-success")

_NODE_STATUS = """\
{{ $now := Now }}
{{ $since := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $since | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ .metadata.name | Quote }}
  type: Hostname
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
allocatable:
{{ with .status.allocatable }}{{ YAML . 1 }}{{ else }}
  cpu: "32"
  memory: 128Gi
  pods: "110"
{{ end }}
capacity:
{{ with .status.capacity }}{{ YAML . 1 }}{{ else }}
  cpu: "32"
  memory: 128Gi
  pods: "110"
{{ end }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  bootID: ""
  machineID: ""
  osImage: ""
  systemUUID: ""
phase: Running
"""

_POD_RUNNING = """\
{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
{{ range .spec.readinessGates }}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: {{ .conditionType | Quote }}}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ $hostNet := or .spec.hostNetwork false }}
{{ $uid := or .metadata.uid "" }}
{{ $name := or .metadata.name "" }}
{{ $ns := or .metadata.namespace "" }}
{{ with PodIPsWith .spec.nodeName $hostNet $uid $name $ns }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""

_POD_SUCCEEDED = """\
{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: PodCompleted}
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady,
   reason: PodCompleted}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""

_NOT_DELETED = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
_RUNNING = {"key": ".status.phase", "operator": "In", "values": ["Running"]}


def _stage(
    name: str,
    kind: str,
    expressions: list[dict[str, Any]],
    nxt: dict[str, Any],
    delay: dict[str, int] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceRef": {"apiGroup": "v1", "kind": kind},
        "selector": {"matchExpressions": expressions},
        "next": nxt,
    }
    if delay:
        spec["delay"] = delay
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": spec,
    }


def stages() -> list[dict[str, Any]]:
    """The Stage objects kwok is started with (its ``--config`` file)."""
    not_ready = {
        "key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
        "operator": "NotIn",
        "values": ["True"],
    }
    ready = {**not_ready, "operator": "In"}
    return [
        _stage("node-initialize", "Node", [not_ready], {"statusTemplate": _NODE_STATUS}),
        _stage(
            "node-heartbeat",
            "Node",
            [_RUNNING, ready],
            {"statusTemplate": _NODE_STATUS},
            delay={"durationMilliseconds": 20000, "jitterDurationMilliseconds": 25000},
        ),
        _stage(
            "pod-ready",
            "Pod",
            [
                _NOT_DELETED,
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                not_ready,
            ],
            {"statusTemplate": _POD_RUNNING},
        ),
        _stage(
            "pod-complete-job",
            "Pod",
            [
                _NOT_DELETED,
                _RUNNING,
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
            ],
            {"statusTemplate": _POD_SUCCEEDED},
        ),
        _stage(
            "pod-complete-helm-test",
            "Pod",
            [
                _NOT_DELETED,
                _RUNNING,
                {
                    "key": '.metadata.annotations["helm.sh/hook"]',
                    "operator": "In",
                    "values": list(HELM_TEST_HOOKS),
                },
            ],
            {"statusTemplate": _POD_SUCCEEDED},
        ),
        _stage(
            "pod-delete",
            "Pod",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"delete": True},
        ),
    ]


def stages_yaml() -> str:
    return yaml.safe_dump_all(stages(), sort_keys=False)


def node(name: str, zone: str) -> dict[str, Any]:
    """A fake node: schedulable, untainted, labelled like a real one."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                NODE_LABEL: "true",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
    }


def node_names(count: int) -> list[str]:
    return [f"kwok-node-{i}" for i in range(count)]


def nodes(count: int) -> list[dict[str, Any]]:
    zones = ("zone-a", "zone-b", "zone-c")
    return [node(name, zones[i % len(zones)]) for i, name in enumerate(node_names(count))]
