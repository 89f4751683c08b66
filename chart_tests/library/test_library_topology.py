"""destate.topology.*: roles from ordinals (also run as a real shell script), peer
addresses, anti-affinity, spread constraints, PDB and StatefulSet identity options."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from conftest import NAMESPACE, Render, RenderFn
from destate_libtest import container, env_map, pod_spec

FULL = "t-libtest"
HEADLESS = f"{FULL}-headless"


@pytest.fixture(scope="module")
def custom(render: RenderFn) -> Render:
    return render(
        {
            "workload": {"replicas": 4},
            "topology": {
                "clusterDomain": "k8s.example",
                "podManagementPolicy": "Parallel",
                "ordinals": {"start": 2},
                "primaryOrdinal": 3,
                "antiAffinity": "hard",
                "pdb": {"enabled": True, "minAvailable": 2},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                    },
                    {
                        "maxSkew": 2,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"custom": "yes"}},
                    },
                ],
            },
        }
    )


def sts_of(out: Render) -> dict[str, Any]:
    return out.get("StatefulSet", FULL)


def test_defaults_helpers(default_out: Render) -> None:
    helpers = default_out.get("ConfigMap", "libtest-helpers")["data"]
    assert helpers["peer-2"] == f"{FULL}-2.{HEADLESS}.{NAMESPACE}.svc.cluster.local"
    assert helpers["primary-host"] == f"{FULL}-0.{HEADLESS}.{NAMESPACE}.svc.cluster.local"
    assert (helpers["role-0"], helpers["role-1"]) == ("primary", "replica")
    assert helpers["spread"] == ""


def test_identity_options(custom: Render) -> None:
    spec = sts_of(custom)["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["ordinals"] == {"start": 2}
    env = env_map(container(pod_spec(sts_of(custom)), "app"))
    assert env["CLUSTER_DOMAIN"] == "k8s.example"
    assert env["PRIMARY_ORDINAL"] == "3"
    assert env["PRIMARY_HOST"] == f"{FULL}-3.{HEADLESS}.{NAMESPACE}.svc.k8s.example"
    primary = custom.get("Service", f"{FULL}-primary")
    assert primary["spec"]["selector"]["apps.kubernetes.io/pod-index"] == "3"


def test_hard_anti_affinity(custom: Render) -> None:
    aff = pod_spec(sts_of(custom))["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in aff
    (term,) = aff["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["labelSelector"]["matchLabels"] == sts_of(custom)["spec"]["selector"]["matchLabels"]


def test_no_anti_affinity_and_custom_affinity(render: RenderFn) -> None:
    none = render(
        {"topology": {"antiAffinity": "none"}}, extra=["--show-only", "templates/statefulset.yaml"]
    )
    assert "affinity" not in pod_spec(sts_of(none))
    custom = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
                ]
            }
        }
    }
    verbatim = render(
        {"topology": {"affinity": custom}}, extra=["--show-only", "templates/statefulset.yaml"]
    )
    assert pod_spec(sts_of(verbatim))["affinity"] == custom


def test_spread_constraints_default_to_own_pods(custom: Render) -> None:
    sts = sts_of(custom)
    first, second = pod_spec(sts)["topologySpreadConstraints"]
    assert first["labelSelector"] == {"matchLabels": sts["spec"]["selector"]["matchLabels"]}
    assert first["topologyKey"] == "topology.kubernetes.io/zone"
    assert second["labelSelector"] == {"matchLabels": {"custom": "yes"}}


def test_pdb_min_available_and_disabled(custom: Render, render: RenderFn) -> None:
    pdb = custom.get("PodDisruptionBudget", FULL)["spec"]
    assert pdb == {"minAvailable": 2, "selector": pdb["selector"]}
    off = render(
        {"topology": {"pdb": {"enabled": False}}},
        extra=["--show-only", "templates/statefulset.yaml"],
    )
    assert off.all("PodDisruptionBudget") == []


@pytest.mark.parametrize(
    ("env", "role"),
    [
        ({"POD_ORDINAL": "3"}, "primary"),
        ({"POD_ORDINAL": "2"}, "replica"),
        ({"POD_ORDINAL": "4"}, "replica"),
        ({"HOSTNAME": f"{FULL}-3"}, "primary"),  # no downward API: hostname suffix
        ({"HOSTNAME": f"{FULL}-12"}, "replica"),
    ],
)
def test_role_script_runs_in_sh(
    render: RenderFn, custom: Render, env: dict[str, str], role: str
) -> None:
    script = custom.get("ConfigMap", "libtest-helpers")["data"]["role-script"]
    proc = subprocess.run(
        ["sh", "-c", f'{script}\necho "$POD_ORDINAL $POD_ROLE"'],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    ordinal = env.get("POD_ORDINAL") or env["HOSTNAME"].rsplit("-", 1)[1]
    assert proc.stdout.split() == [ordinal, role]


def test_headless_service_ports_and_targets(render: RenderFn) -> None:
    out = render(
        {
            "topology": {
                "ports": [
                    {"name": "db", "port": 3306},
                    {"name": "metrics", "port": 9104, "targetPort": 9104, "appProtocol": "http"},
                ]
            }
        },
        extra=["--show-only", "templates/statefulset.yaml"],
    )
    ports = out.get("Service", HEADLESS)["spec"]["ports"]
    assert ports == [
        {"name": "db", "port": 3306, "targetPort": "db", "protocol": "TCP"},
        {
            "name": "metrics",
            "port": 9104,
            "targetPort": 9104,
            "protocol": "TCP",
            "appProtocol": "http",
        },
    ]
