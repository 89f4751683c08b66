"""Rules on objects that exist at install time without being in the render, and rules
that misfired on public charts as shipped (issue 10, items 3 and 9). No helm."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from chartmatrix.findings import Finding
from chartmatrix.manifests import parse
from chartmatrix.rules import RuleContext, run_rules
from chartmatrix.rules.config import canonical_hash


def run(*objs: dict, **ctx: Any) -> list[Finding]:
    text = "".join("---\n" + yaml.safe_dump(o) for o in objs)
    return run_rules(RuleContext(manifests=parse(text), **ctx))


def of(rule_id: str, *objs: dict, **ctx: Any) -> list[Finding]:
    return [f for f in run(*objs, **ctx) if f.rule == rule_id]


def deployment(name: str = "web", *, labels: dict | None = None, **pod: Any) -> dict:
    labels = labels or {"app": name}
    spec = {"containers": [{"name": "app", "image": "app:1"}], **pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def mount_secret(name: str) -> dict:
    return {"volumes": [{"name": "s", "secret": {"secretName": name}}]}


def job(name: str, sa: str, *, hook: bool = True, args: list[str] | None = None) -> dict:
    meta: dict = {"name": name}
    if hook:
        meta["annotations"] = {"helm.sh/hook": "pre-install,pre-upgrade"}
    container = {"name": "create", "image": "certgen:1", "args": args or ["create"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "template": {
                "spec": {
                    "serviceAccountName": sa,
                    "restartPolicy": "OnFailure",
                    "containers": [container],
                }
            }
        },
    }


def rbac(sa: str, rules: list[dict], *, cluster: bool = False) -> list[dict]:
    role_kind = "ClusterRole" if cluster else "Role"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": role_kind,
            "metadata": {"name": sa},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": f"{role_kind}Binding",
            "metadata": {"name": sa},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": role_kind,
                "name": sa,
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "default"}],
        },
    ]


CREATE_SECRETS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create"]}]


# --- item 3: objects that exist at install time ------------------------------------


def test_secret_of_a_hook_job_that_names_it_is_no_finding() -> None:
    # ingress-nginx: kube-webhook-certgen create --secret-name=<name> in a pre-install hook
    certgen = job("admission-create", "admission", args=["create", "--secret-name=web-admission"])
    objs = (
        deployment(**mount_secret("web-admission")),
        certgen,
        *rbac("admission", CREATE_SECRETS),
    )
    assert of("refs/exists", *objs) == []


def test_secret_named_in_resource_names_of_the_creator_is_no_finding() -> None:
    # argo-cd redis-secret-init: get on resourceNames [argocd-redis], create on secrets
    rules = [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["redis"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]
    init = job("redis-secret-init", "init", args=["admin", "redis-initial-password"])
    env = {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis", "key": "auth"}},
    }
    redis = deployment("redis")
    redis["spec"]["template"]["spec"]["containers"][0]["env"] = [env]
    assert of("refs/exists", redis, init, *rbac("init", rules)) == []


def test_secret_a_job_may_create_is_a_warning_naming_the_job() -> None:
    objs = (deployment(**mount_secret("web-tls")), job("gen", "gen"), *rbac("gen", CREATE_SECRETS))
    [f] = of("refs/exists", *objs)
    assert f.severity.value == "warning"
    assert "probably created by Job/gen (hook) whose ServiceAccount may create Secrets" in f.message
    assert "external.Secret: [web-tls]" in f.message and "suppress refs/exists" in f.message


def test_rbac_that_does_not_allow_creating_that_secret_is_still_an_error() -> None:
    names_other = [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["x"], "verbs": ["create"]}
    ]
    read_only = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
    configmaps = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
    for rules in (names_other, read_only, configmaps):
        objs = (deployment(**mount_secret("web-tls")), job("gen", "gen"), *rbac("gen", rules))
        [f] = of("refs/exists", *objs)
        assert f.severity.value == "error" and "no object in the render creates it" in f.message
    # bound to another ServiceAccount than the Job's
    objs = (
        deployment(**mount_secret("web-tls")),
        job("gen", "other"),
        *rbac("gen", CREATE_SECRETS),
    )
    assert of("refs/exists", *objs)[0].severity.value == "error"


def test_cluster_role_and_builtin_roles_count_as_creators() -> None:
    objs = (
        deployment(**mount_secret("web-tls")),
        job("gen", "gen", args=["--name", "web-tls"]),
        *rbac("gen", CREATE_SECRETS, cluster=True),
    )
    assert of("refs/exists", *objs) == []
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "gen-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "gen", "namespace": "default"}],
    }
    [f] = of("refs/exists", deployment(**mount_secret("web-tls")), job("gen", "gen"), binding)
    assert f.severity.value == "warning"


def test_pod_is_never_its_own_creator() -> None:
    web = deployment(serviceAccountName="web", **mount_secret("web-tls"))
    [f] = of("refs/exists", web, *rbac("web", CREATE_SECRETS))
    assert f.severity.value == "error"


def test_cert_manager_certificate_secret_exists() -> None:
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web"},
        "spec": {"secretName": "web-tls", "issuerRef": {"name": "ca"}, "dnsNames": ["web"]},
    }
    assert of("refs/exists", deployment(**mount_secret("web-tls")), cert) == []
    assert of("refs/exists", deployment(**mount_secret("other-tls")), cert)


def test_external_and_sealed_secrets_and_root_ca_exist() -> None:
    external = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "db"},
        "spec": {"target": {"name": "db-auth"}},
    }
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "api-key"},
        "spec": {"encryptedData": {"k": "AgB"}},
    }
    pod = {
        "volumes": [
            {"name": "a", "secret": {"secretName": "db-auth"}},
            {"name": "b", "secret": {"secretName": "api-key"}},
            {
                "name": "c",
                "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]},
            },
        ]
    }
    assert of("refs/exists", deployment(**pod), external, sealed) == []


def test_custom_resource_that_names_the_secret_is_a_warning() -> None:
    user = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": "web-user"},
        "spec": {"authentication": {"type": "scram-sha-512"}},
    }
    [f] = of("refs/exists", deployment(**mount_secret("web-user")), user)
    assert f.severity.value == "warning" and "KafkaUser/web-user (custom resource" in f.message


def test_optional_references_are_never_findings() -> None:
    pod = {
        "volumes": [
            {"name": "a", "configMap": {"name": "cm-a", "optional": True}},
            {"name": "b", "secret": {"secretName": "s-b", "optional": True}},
            {
                "name": "c",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "cm-c", "optional": True}},
                        {"secret": {"name": "s-c", "optional": True}},
                    ]
                },
            },
        ]
    }
    web = deployment(**pod)
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["envFrom"] = [
        {"configMapRef": {"name": "cm-e", "optional": True}},
        {"secretRef": {"name": "s-e", "optional": True}},
    ]
    container["env"] = [
        {
            "name": "A",
            "valueFrom": {"configMapKeyRef": {"name": "cm-v", "key": "k", "optional": True}},
        },
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s-v", "key": "k", "optional": True}}},
    ]
    assert of("refs/exists", web) == []
    # optional: false (or a string, which the schema rejects) is a reference
    container["env"][1]["valueFrom"]["secretKeyRef"]["optional"] = False
    assert [f.path for f in of("refs/exists", web)] == [
        "spec.template.spec.containers[0].env[1].valueFrom"
    ]


def test_claims_of_volume_claim_templates_exist_and_pull_secrets_warn() -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]},
            },
        },
    }
    backup = deployment(
        "backup", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-db-0"}}]
    )
    assert of("refs/exists", sts, backup) == []
    pulls = deployment(imagePullSecrets=[{"name": "regcred"}])
    [f] = of("refs/exists", pulls)
    assert f.severity.value == "warning" and "kubelet pulls without it" in f.message


def test_missing_secret_without_any_creator_stays_an_error() -> None:
    [f] = of("refs/exists", deployment(**mount_secret("web-auth")))
    assert f.severity.value == "error"
    assert "no object in the render creates it" in f.message
    assert "external.Secret: [web-auth]" in f.message
    assert (
        of(
            "refs/exists",
            deployment(**mount_secret("web-auth")),
            external={"Secret": frozenset({"web-auth"})},
        )
        == []
    )


def svc(name: str, selector: dict, namespace: str | None = None) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": selector, "ports": [{"port": 80}]},
    }


PROMETHEUS = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Prometheus",
    "metadata": {"name": "stack-prometheus"},
    "spec": {"replicas": 1},
}


def test_service_selecting_operator_pods_is_a_warning() -> None:
    # kube-prometheus-stack: the operator makes the pods from the Prometheus resource
    prom = svc(
        "stack-prometheus",
        {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "stack-prometheus"},
    )
    [f] = of("service/selector-matches", prom, PROMETHEUS)
    assert f.severity.value == "warning"
    assert "operator of Prometheus/stack-prometheus" in f.message
    assert "external.Service: [stack-prometheus]" in f.message
    # operator labels without the resource in this render (another release made it)
    [f] = of("service/selector-matches", svc("am", {"alertmanager": "main"}))
    assert f.severity.value == "warning" and "operator" in f.message


def test_service_selecting_control_plane_pods_is_a_warning() -> None:
    etcd = svc("stack-kube-etcd", {"component": "etcd"}, namespace="kube-system")
    dns = svc("stack-coredns", {"k8s-app": "kube-dns"})
    got = of("service/selector-matches", etcd, dns)
    assert [f.severity.value for f in got] == ["warning", "warning"]
    assert "namespace kube-system" in got[0].message
    assert "control-plane pods (k8s-app: kube-dns)" in got[1].message


def test_service_selecting_nothing_stays_an_error() -> None:
    # a config-only custom resource does not make pods run
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    [f] = of("service/selector-matches", deployment(), svc("web", {"app": "wbe"}), monitor)
    assert f.severity.value == "error" and "suppress service/selector-matches" in f.message
    assert of("service/selector-matches", deployment(), svc("web", {"app": "web"})) == []


# --- item 9: topology/headless-service on single-member StatefulSets ----------------


def statefulset(replicas: int | None, service: str | None = "db-headless") -> dict:
    spec: dict = {
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "db", "image": "db:1"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if service:
        spec["serviceName"] = service
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": spec,
    }


def headless(**spec: Any) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db-headless"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, **spec},
    }


@pytest.mark.parametrize("replicas", [1, None, 0])
def test_single_member_statefulset_needs_no_peer_discovery(replicas: int | None) -> None:
    assert of("topology/headless-service", statefulset(replicas), headless()) == []
    assert of("topology/headless-service", statefulset(replicas, service=None)) == []
    [f] = of("topology/headless-service", statefulset(replicas))
    assert f.severity.value == "warning" and "suppress topology/headless-service" in f.message


def test_replicated_statefulset_still_needs_its_headless_service() -> None:
    [f] = of("topology/headless-service", statefulset(3), headless())
    assert f.severity.value == "warning" and "publishNotReadyAddresses" in f.message
    assert "suppress topology/headless-service" in f.message
    [f] = of("topology/headless-service", statefulset(3, service=None))
    assert f.severity.value == "error"
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "db"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
            "minReplicas": 1,
            "maxReplicas": 4,
        },
    }
    [f] = of("topology/headless-service", statefulset(None), headless(), hpa)
    assert "publishNotReadyAddresses" in f.message


# --- item 9: config/checksum-annotation per object ---------------------------------


def configmap(name: str, data: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data or {"a": "1"},
    }


def secret(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"p": "eA=="}}


def using(annotations: dict, *volumes: tuple[str, str], meta: dict | None = None) -> dict:
    vols = [
        {"name": f"v{i}", "configMap": {"name": n}}
        if kind == "ConfigMap"
        else {"name": f"v{i}", "secret": {"secretName": n}}
        for i, (kind, n) in enumerate(volumes)
    ]
    d = deployment(volumes=vols)
    d["spec"]["template"]["metadata"]["annotations"] = annotations
    if meta:
        d["metadata"]["annotations"] = meta
    return d


def uncovered(*objs: dict) -> list[str]:
    return [f.message.split("'")[1] for f in of("config/checksum-annotation", *objs)]


def test_checksum_config_does_not_cover_a_secret() -> None:
    web = using({"checksum/config": "abc"}, ("ConfigMap", "web-config"), ("Secret", "web-auth"))
    [f] = of("config/checksum-annotation", web, configmap("web-config"), secret("web-auth"))
    assert "Secret 'web-auth'" in f.message and "checksum/secret" in f.message
    assert (
        "reloader.stakater.com/auto" in f.message
        and "suppress config/checksum-annotation" in f.message
    )
    both = using(
        {"checksum/config": "abc", "checksum/secret": "def"},
        ("ConfigMap", "web-config"),
        ("Secret", "web-auth"),
    )
    assert uncovered(both, configmap("web-config"), secret("web-auth")) == []


def test_checksum_annotation_names_its_object() -> None:
    objs = (configmap("web-nginx"), configmap("web-app"))
    nginx_only = using(
        {"checksum/nginx-config": "x"}, ("ConfigMap", "web-nginx"), ("ConfigMap", "web-app")
    )
    assert uncovered(nginx_only, *objs) == ["web-app"]
    # the full name, a value that is the object's hash, a file-named checksum
    by_name = using(
        {"checksum/web-app": "x", "checksum/nginx": "y"},
        ("ConfigMap", "web-nginx"),
        ("ConfigMap", "web-app"),
    )
    assert uncovered(by_name, *objs) == []
    hashed = using(
        {"checksum/a": canonical_hash({"a": "1"})}, ("ConfigMap", "web-app"), ("Secret", "web-auth")
    )
    assert uncovered(hashed, configmap("web-app"), secret("web-auth")) == ["web-auth"]
    templated = using({"checksum/main-config": "x"}, ("ConfigMap", "web-app"))
    assert uncovered(templated, configmap("web-app")) == []
    values = using({"checksum/values": "x"}, ("ConfigMap", "web-app"), ("Secret", "web-auth"))
    assert uncovered(values, configmap("web-app"), secret("web-auth")) == []
    assert uncovered(using({"rollme": "Xy1z"}, ("Secret", "web-auth")), secret("web-auth")) == []
    assert (
        uncovered(
            using({"example.com/config-hash": "x"}, ("ConfigMap", "web-app")), configmap("web-app")
        )
        == []
    )


def test_reloaders_cover_changes() -> None:
    objs = (configmap("web-config"), secret("web-auth"))
    vols = (("ConfigMap", "web-config"), ("Secret", "web-auth"))
    assert uncovered(using({}, *vols), *objs) == ["web-config", "web-auth"]
    auto = using({}, *vols, meta={"reloader.stakater.com/auto": "true"})
    assert uncovered(auto, *objs) == []
    listed = using({}, *vols, meta={"configmap.reloader.stakater.com/reload": "other,web-config"})
    assert uncovered(listed, *objs) == ["web-auth"]
    secrets = using({}, *vols, meta={"secret.reloader.stakater.com/reload": "web-auth"})
    assert uncovered(secrets, *objs) == ["web-config"]


def test_reloader_sidecar_covers_what_it_watches() -> None:
    web = using({}, ("ConfigMap", "web-config"), ("Secret", "web-auth"))
    pod = web["spec"]["template"]["spec"]
    pod["containers"].append(
        {
            "name": "reload",
            "image": "ghcr.io/jimmidyson/configmap-reload:v0.14.0",
            "volumeMounts": [{"name": "v0", "mountPath": "/etc/config"}],
        }
    )
    assert uncovered(web, configmap("web-config"), secret("web-auth")) == ["web-auth"]
    # an API watcher (k8s-sidecar) mounts none of the volumes: it covers all of them
    pod["containers"][1] = {"name": "sc", "image": "quay.io/kiwigrid/k8s-sidecar:1.30.0"}
    assert uncovered(web, configmap("web-config"), secret("web-auth")) == []
    # ... but not what the app reads through env
    pod["containers"][0]["envFrom"] = [{"secretRef": {"name": "web-auth"}}]
    assert uncovered(web, configmap("web-config"), secret("web-auth")) == ["web-auth"]


def test_objects_that_cannot_change_in_place_and_jobs_need_no_checksum() -> None:
    immutable = configmap("web-config")
    immutable["immutable"] = True
    assert uncovered(using({}, ("ConfigMap", "web-config")), immutable) == []
    assert (
        uncovered(
            using({}, ("ConfigMap", "web-config-5f8d2c1a9b")), configmap("web-config-5f8d2c1a9b")
        )
        == []
    )
    kept = secret("web-auth")  # generated once, reused through lookup: state, not config
    kept["metadata"]["annotations"] = {"helm.sh/resource-policy": "keep"}
    assert uncovered(using({"checksum/config": "x"}, ("Secret", "web-auth")), kept) == []
    batch = job("migrate", "default", hook=False)
    batch["spec"]["template"]["spec"]["volumes"] = [
        {"name": "c", "configMap": {"name": "web-config"}}
    ]
    assert uncovered(batch, configmap("web-config")) == []


def test_destate_convention_keeps_errors() -> None:
    web = using({"checksum/config": "abc"}, ("ConfigMap", "web-config"), ("Secret", "web-auth"))
    got = of(
        "config/checksum-annotation",
        web,
        configmap("web-config"),
        secret("web-auth"),
        checksum_convention="data-hash",
    )
    assert [f.severity.value for f in got] == ["error"]


# --- warnings say how to silence them ----------------------------------------------


def test_every_warning_says_how_to_silence_it() -> None:
    objs = (
        deployment(imagePullSecrets=[{"name": "regcred"}], hostNetwork=True),
        statefulset(3),
        headless(),
        svc("am", {"alertmanager": "main"}),
        using({}, ("ConfigMap", "web-config")),
        configmap("web-config"),
    )
    warnings = [f for f in run(*objs) if f.severity.value == "warning"]
    assert len({f.rule for f in warnings}) >= 5
    for f in warnings:
        assert "suppress" in f.message, f.line()


def test_severity_overrides() -> None:
    objs = (statefulset(3), headless())
    default = {f.rule: f.severity.value for f in run(*objs)}
    assert default["topology/pdb"] == "error" and default["topology/spread"] == "warning"
    from chartmatrix.findings import Severity

    text = "".join("---\n" + yaml.safe_dump(o) for o in objs)
    got = run_rules(
        RuleContext(manifests=parse(text)),
        severities={"topology/pdb": Severity.WARNING, "topology/spread": None},
    )
    rules = {f.rule: f.severity.value for f in got}
    assert rules["topology/pdb"] == "warning" and "topology/spread" not in rules
