"""destate.workload.*, names, labels and topology on the test chart's default values:
the StatefulSet and Deployment are wired to the Services, claims and config they use."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import NAMESPACE, TEST_CHART, Render, RenderFn
from destate_libtest import container, env_map, pod_spec, volume

FULL = "t-libtest"
HEADLESS = f"{FULL}-headless"
# helm.sh/chart is name-version of the test chart: read, so a version bump breaks nothing
TEST_META = yaml.safe_load((TEST_CHART / "Chart.yaml").read_text())
CHART_LABEL = f"{TEST_META['name']}-{TEST_META['version']}"


@pytest.fixture(scope="module")
def out(default_out: Render) -> Render:
    return default_out


@pytest.fixture(scope="module")
def sts(out: Render) -> dict[str, Any]:
    return out.get("StatefulSet", FULL)


@pytest.fixture(scope="module")
def deploy(out: Render) -> dict[str, Any]:
    return out.get("Deployment", f"{FULL}-web")


def test_names_and_labels(out: Render) -> None:
    helpers = out.get("ConfigMap", "libtest-helpers")["data"]
    assert helpers["name"] == "libtest"
    assert helpers["fullname"] == FULL
    assert helpers["fullname-redis"] == f"{FULL}-redis"
    assert helpers["chart"] == CHART_LABEL
    assert helpers["headless"] == HEADLESS
    assert helpers["namespace"] == NAMESPACE
    labels = out.get("Service", HEADLESS)["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/name": "libtest",
        "app.kubernetes.io/instance": "t",
        "app.kubernetes.io/version": "1.0.0",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "libtest",
        "helm.sh/chart": CHART_LABEL,
    }
    assert yaml.safe_load(helpers["standard-labels"])["tier"] == "db"


def test_every_object_is_namespaced_and_labelled(out: Render) -> None:
    for doc in out.docs:
        meta = doc["metadata"]
        if doc["kind"] not in ("StorageClass", "PersistentVolume"):
            assert meta["namespace"] == NAMESPACE, doc["kind"]
        assert meta["labels"]["app.kubernetes.io/instance"] == "t", doc["kind"]


def test_statefulset_uses_headless_service_and_selects_its_pods(
    out: Render, sts: dict[str, Any]
) -> None:
    spec = sts["spec"]
    headless = out.get("Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    selector = spec["selector"]["matchLabels"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert headless["spec"]["selector"] == selector
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert "ordinals" not in spec
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}


def test_statefulset_claims_and_retention(sts: dict[str, Any]) -> None:
    spec = sts["spec"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    # immutable field: nothing version-dependent in the claim template's labels
    assert "helm.sh/chart" not in claim["metadata"]["labels"]
    assert "app.kubernetes.io/version" not in claim["metadata"]["labels"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]
    app = container(pod_spec(sts), "app")
    assert {"name": "data", "mountPath": "/data"} in app["volumeMounts"]
    # the claim template provides "data": no pod volume may shadow it
    assert "data" not in [v["name"] for v in pod_spec(sts).get("volumes", [])]


def test_restricted_security_defaults(sts: dict[str, Any], deploy: dict[str, Any]) -> None:
    for workload in (sts, deploy):
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["runAsNonRoot"] is True, c["name"]


def test_main_container_assembly(sts: dict[str, Any]) -> None:
    app = container(pod_spec(sts), "app")
    assert app["image"] == "registry.example/libtest:1.0.0"  # tag defaults to appVersion
    assert app["args"] == ["--config", "/etc/app/app.conf"]
    assert app["ports"] == [{"name": "app", "containerPort": 8080}]
    assert app["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"}}
    assert app["readinessProbe"] == {"tcpSocket": {"port": "app"}}
    assert "livenessProbe" not in app
    env = env_map(app)
    assert env["ROLE_SCRIPT"] == "/scripts/role.sh"
    names = [e["name"] for e in app["env"]]
    assert names.index("POD_NAME") < names.index("POD_FQDN")  # $(VAR) needs order


def test_pod_identity_env(sts: dict[str, Any]) -> None:
    env = env_map(container(pod_spec(sts), "app"))
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_ORDINAL"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }
    assert env["HEADLESS_SERVICE"] == HEADLESS
    assert env["CLUSTER_DOMAIN"] == "cluster.local"
    assert env["POD_FQDN"] == (
        "$(POD_NAME).$(HEADLESS_SERVICE).$(POD_NAMESPACE).svc.$(CLUSTER_DOMAIN)"
    )
    assert env["PRIMARY_ORDINAL"] == "0"
    assert env["PRIMARY_HOST"] == f"{FULL}-0.{HEADLESS}.{NAMESPACE}.svc.cluster.local"


def test_pod_annotations_merge(sts: dict[str, Any]) -> None:
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert ann["example.com/owner"] == "libtest"  # workload.podAnnotations
    assert len(ann["checksum/helpers"]) == 64  # podAnnotations argument
    assert len(ann["checksum/config"]) == 64
    assert len(ann["checksum/secret"]) == 64


def test_pod_labels_merge_under_the_selector(sts: dict[str, Any], render: RenderFn) -> None:
    """Without pod labels the pod gets the standard set; workload.podLabels are added to
    it, and never replace a selector label (the pods would leave their own selector)."""
    standard = sts["metadata"]["labels"]
    assert sts["spec"]["template"]["metadata"]["labels"] == standard
    extra = {"team": "db", "app.kubernetes.io/name": "other"}
    labelled = render({"workload": {"podLabels": extra}}).get("StatefulSet", FULL)
    assert labelled["spec"]["template"]["metadata"]["labels"] == standard | {"team": "db"}


def test_soft_anti_affinity_targets_own_pods(sts: dict[str, Any]) -> None:
    aff = pod_spec(sts)["affinity"]["podAntiAffinity"]
    (term,) = aff["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["weight"] == 100
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == (sts["spec"]["selector"]["matchLabels"])
    )


def test_primary_and_read_services(out: Render, sts: dict[str, Any]) -> None:
    selector = sts["spec"]["selector"]["matchLabels"]
    primary = out.get("Service", f"{FULL}-primary")["spec"]
    assert primary["selector"] == {**selector, "apps.kubernetes.io/pod-index": "0"}
    assert primary["ports"] == [
        {"name": "app", "port": 8080, "targetPort": "app", "protocol": "TCP"}
    ]
    read = out.get("Service", f"{FULL}-read")["spec"]
    assert read["selector"] == selector
    assert "sessionAffinity" not in read


def test_pdb_selects_the_pods(out: Render, sts: dict[str, Any]) -> None:
    pdb = out.get("PodDisruptionBudget", FULL)["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_component_selectors_do_not_overlap(
    out: Render, sts: dict[str, Any], deploy: dict[str, Any]
) -> None:
    main = sts["spec"]["selector"]["matchLabels"]
    web_pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert not main.items() <= web_pod_labels.items()
    assert deploy["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "web"


def test_deployment_claim_strategy_and_sidecar(out: Render, deploy: dict[str, Any]) -> None:
    spec = deploy["spec"]
    assert spec["strategy"] == {"type": "Recreate"}  # RWO claim: no two pods at once
    pod = pod_spec(deploy)
    claim_name = volume(pod, "data")["persistentVolumeClaim"]["claimName"]
    claim = out.get("PersistentVolumeClaim", claim_name)
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    envoy = container(pod, "envoy")
    assert envoy["image"] == "envoyproxy/envoy:v1.40.0"
    assert envoy["ports"][0]["containerPort"] == 9000
    mount = next(m for m in envoy["volumeMounts"] if m["name"] == "envoy-config")
    assert mount["mountPath"] == "/etc/envoy"
    cm = out.get("ConfigMap", volume(pod, "envoy-config")["configMap"]["name"])
    assert "envoy.yaml" in cm["data"]
    # Deployment pods get no StatefulSet identity
    assert "POD_ORDINAL" not in env_map(container(pod, "web"))


def test_podtemplate_and_container_helpers_match_statefulset(
    out: Render, sts: dict[str, Any]
) -> None:
    helpers = out.get("ConfigMap", "libtest-helpers")["data"]
    tpl = yaml.safe_load(helpers["pod-template"])
    assert tpl["spec"]["securityContext"] == pod_spec(sts)["securityContext"]
    (main,) = yaml.safe_load(helpers["container"])
    assert main["image"] == container(pod_spec(sts), "app")["image"]
    assert helpers["image"] == "registry.example/libtest:1.0.0"
