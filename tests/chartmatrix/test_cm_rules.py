"""State rules on small hand-made renders (unit tests, no helm)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import yaml
from chartmatrix.manifests import parse
from chartmatrix.rules import RULES, RuleContext, run_rules
from chartmatrix.rules.config import canonical_hash, go_to_json
from chartmatrix.rules.hardening import image_problem


def sts(**over: object) -> dict:
    base = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db-headless",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}, "annotations": {}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]},
            },
        },
    }
    base["spec"].update(over)  # type: ignore[union-attr]
    return base


def svc(name: str, selector: dict, **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, **spec},
    }


def sts_with_volume(volume: dict) -> tuple[dict, dict]:
    """The StatefulSet with one volume, and its headless Service."""
    s = sts()
    s["spec"]["template"]["spec"]["volumes"] = [volume]
    return s, svc("db-headless", {"app": "db"}, clusterIP="None")


PDB = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "db"},
    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "db"}}},
}


def findings(*objs: dict, **ctx: object) -> dict[str, list[str]]:
    text = "".join("---\n" + yaml.safe_dump(o) for o in objs)
    out: dict[str, list[str]] = {}
    for f in run_rules(RuleContext(manifests=parse(text), **ctx)):  # type: ignore[arg-type]
        out.setdefault(f.rule, []).append(f"{f.resource} {f.path}: {f.message}")
    return out


README = Path(__file__).resolve().parents[2] / "tools" / "chartmatrix" / "README.md"


def documented_rules() -> dict[str, tuple[str, str]]:
    """id -> (severity, checks) from the table under the README's "## Rules" heading."""
    section = README.read_text().split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| (.+) \|$", section, re.M)
    return {rule_id: (severity.strip(), checks.strip()) for rule_id, severity, checks in rows}


def test_readme_rule_table_is_the_registered_rules() -> None:
    documented = documented_rules()
    assert sorted(set(RULES) - set(documented)) == [], "rules missing from the README table"
    assert sorted(set(documented) - set(RULES)) == [], "README rows naming no rule"
    for rule_id, rule in RULES.items():
        severity, checks = documented[rule_id]
        assert "/" in rule_id and rule.summary and checks, rule_id
        # the documented severity is the rule's (a note may follow in parentheses)
        assert severity.split()[0] == rule.severity.value, f"{rule_id}: README says {severity}"


def test_clean_statefulset_has_no_state_findings() -> None:
    headless = svc("db-headless", {"app": "db"}, clusterIP="None", publishNotReadyAddresses=True)
    got = findings(sts(), headless, PDB)
    assert set(got) <= {"hardening/pod-security", "topology/spread"}
    late = findings(sts(), svc("db-headless", {"app": "db"}, clusterIP="None"), PDB)
    assert "publishNotReadyAddresses" in late["topology/headless-service"][0]


def test_headless_service_rule() -> None:
    assert "topology/headless-service" in findings(sts(), PDB)
    msg = findings(sts(), svc("db-headless", {"app": "db"}), PDB)["topology/headless-service"]
    assert "is not headless" in msg[0]
    msg = findings(sts(), svc("db-headless", {"app": "x"}, clusterIP="None"), PDB)
    assert any("does not match" in m for m in msg["topology/headless-service"])
    assert "topology/headless-service" not in findings(
        sts(), PDB, external={"Service": frozenset({"db-headless"})}
    )


def test_pdb_and_selector_rules() -> None:
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    assert "topology/pdb" in findings(sts(), headless)
    assert "topology/pdb" not in findings(sts(replicas=1), headless)
    primary = svc("db-primary", {"app": "db", "apps.kubernetes.io/pod-index": "0"})
    assert "service/selector-matches" not in findings(sts(), headless, PDB, primary)
    beyond = svc("db-x", {"app": "db", "apps.kubernetes.io/pod-index": "3"})
    assert "service/selector-matches" in findings(sts(), headless, PDB, beyond)
    by_name = svc("db-1", {"statefulset.kubernetes.io/pod-name": "db-1"})
    assert "service/selector-matches" not in findings(sts(), headless, PDB, by_name)


def test_references_and_checksums() -> None:
    s = sts()
    pod = s["spec"]["template"]["spec"]
    pod["volumes"] = [
        {"name": "c", "configMap": {"name": "db-config"}},
        {"name": "o", "secret": {"secretName": "maybe", "optional": True}},
    ]
    pod["containers"][0]["envFrom"] = [{"secretRef": {"name": "db-auth"}}]
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    got = findings(s, headless, PDB)
    refs = got["refs/exists"]
    assert len(refs) == 2 and "ConfigMap 'db-config'" in refs[0] and "Secret 'db-auth'" in refs[1]
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "db-config"},
        "data": {"my.cnf": "[mysqld]\nx=<1>&"},
    }
    got = findings(s, headless, PDB, cm, external={"Secret": frozenset({"db-auth"})})
    assert "refs/exists" not in got
    assert got["config/checksum-annotation"][0].startswith("StatefulSet/db")
    s["spec"]["template"]["metadata"]["annotations"]["checksum/config"] = "0" * 64
    got = findings(
        s,
        headless,
        PDB,
        cm,
        checksum_convention="data-hash",
        external={"Secret": frozenset({"db-auth"})},
    )
    assert "config/checksum-annotation" not in got
    assert "is not the hash of the data of a ConfigMap" in got["config/checksum-value"][0]
    right = canonical_hash(cm["data"])
    s["spec"]["template"]["metadata"]["annotations"]["checksum/config"] = right
    got = findings(
        s,
        headless,
        PDB,
        cm,
        checksum_convention="data-hash",
        external={"Secret": frozenset({"db-auth"})},
    )
    assert "config/checksum-value" not in got


def test_go_to_json_matches_helm_tojson() -> None:
    # what `toJson` prints for {"b": "<&>", "a": "é\u2028"} in Helm (Go encoding/json)
    assert (
        go_to_json({"b": "<&>", "a": "é\u2028"}) == '{"a":"é\\u2028","b":"\\u003c\\u0026\\u003e"}'
    )


def test_client_ip_timeout() -> None:
    ok = svc(
        "s",
        {},
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}},
    )
    assert "session/client-ip-timeout" not in findings(ok)
    big = svc(
        "s",
        {},
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 90000}},
    )
    assert "1..86400 (got 90000)" in findings(big)["session/client-ip-timeout"][0]
    unset = svc("s", {}, sessionAffinity="ClientIP")
    [f] = [f for f in run_rules(RuleContext(parse(yaml.safe_dump(unset))))]
    assert f.rule == "session/client-ip-timeout" and f.severity.value == "warning"


def test_grpc_ingress() -> None:
    backend = svc("api", {"app": "api"}, ports=[{"name": "grpc", "port": 50051}])
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "api"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "api", "port": {"name": "grpc"}}},
                            }
                        ]
                    }
                }
            ]
        },
    }
    got = findings(backend, ing)["connection/grpc-ingress"]
    assert len(got) == 2 and "want GRPC or GRPCS" in got[0] and "spec.tls" in got[1]
    ing["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/backend-protocol": "GRPCS"}
    ing["spec"]["tls"] = [{"secretName": "t"}]
    assert "connection/grpc-ingress" not in findings(backend, ing)


def test_envoy_clusters_must_be_headless() -> None:
    def envoy(address: str, kind: str = "STRICT_DNS") -> dict:
        conf = {
            "static_resources": {
                "clusters": [
                    {
                        "name": "up",
                        "type": kind,
                        "load_assignment": {
                            "endpoints": [
                                {
                                    "lb_endpoints": [
                                        {
                                            "endpoint": {
                                                "address": {
                                                    "socket_address": {
                                                        "address": address,
                                                        "port_value": 1,
                                                    }
                                                }
                                            }
                                        }
                                    ]
                                }
                            ]
                        },
                    }
                ]
            }
        }
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "envoy"},
            "data": {"envoy.yaml": yaml.safe_dump(conf)},
        }

    headless = svc("api-headless", {"app": "api"}, clusterIP="None")
    plain = svc("api", {"app": "api"})
    ok = envoy("api-headless.default.svc.cluster.local")
    assert "connection/envoy-headless" not in findings(headless, ok)
    assert "is not headless" in findings(plain, envoy("api"))["connection/envoy-headless"][0]
    assert (
        "not a Service in the render"
        in findings(envoy("nope.default"))["connection/envoy-headless"][0]
    )
    assert (
        "STRICT_DNS"
        in findings(headless, envoy("api-headless", "LOGICAL_DNS"))["connection/envoy-headless"][0]
    )
    assert "connection/envoy-headless" not in findings(envoy("127.0.0.1"), envoy("example.com"))


def test_hardening() -> None:
    assert image_problem("nginx") and image_problem("nginx:latest")
    assert image_problem("reg:5000/nginx") == "image 'reg:5000/nginx' has no tag (pulls latest)"
    assert image_problem("nginx:1.27") is None and image_problem("nginx@sha256:abc") is None
    s = sts()
    s["spec"]["template"]["spec"]["securityContext"] = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    s["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert "hardening/pod-security" not in findings(s)
    s["spec"]["template"]["spec"]["hostNetwork"] = True
    assert "hostNetwork: true" in findings(s)["hardening/pod-security"][0]


def test_upgrade_safety() -> None:
    old = parse(yaml.safe_dump(sts()))
    new = sts(serviceName="other", podManagementPolicy="Parallel", replicas=5)
    ctx = RuleContext(manifests=parse(yaml.safe_dump(new)), golden=old)
    got = [f for f in run_rules(ctx) if f.rule == "upgrade/immutable-field"]
    assert {f.path for f in got} == {"spec.serviceName", "spec.podManagementPolicy"}
    assert all(f.check == "golden" for f in got)
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "p"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    bigger = yaml.safe_load(yaml.safe_dump(pvc))
    bigger["spec"]["resources"]["requests"]["storage"] = "2Gi"
    ctx = RuleContext(manifests=parse(yaml.safe_dump(bigger)), golden=parse(yaml.safe_dump(pvc)))
    assert not [f for f in run_rules(ctx) if f.rule == "upgrade/immutable-field"]
    bigger["spec"]["storageClassName"] = "fast"
    ctx = RuleContext(manifests=parse(yaml.safe_dump(bigger)), golden=parse(yaml.safe_dump(pvc)))
    assert [f.path for f in run_rules(ctx) if f.rule == "upgrade/immutable-field"] == ["spec"]


def test_local_persistent_volumes() -> None:
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "local"},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }

    def pv(name: str, pinned: bool = True) -> dict:
        spec: dict = {
            "storageClassName": "local",
            "local": {"path": "/mnt"},
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
        }
        if pinned:
            spec["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [name],
                                }
                            ]
                        }
                    ]
                }
            }
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": spec,
        }

    s = sts(
        volumeClaimTemplates=[
            {
                "metadata": {"name": "data"},
                "spec": {
                    "storageClassName": "local",
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ]
    )
    got = findings(s, sc, pv("a"), pv("b"), pv("c"))
    assert "persistence/local-volumes" not in got
    got = findings(s, sc, pv("a"), pv("b", pinned=False))["persistence/local-volumes"]
    assert any("without a required nodeAffinity" in m for m in got)
    assert any("3 replicas claim StorageClass local" in m for m in got)
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "x"},
        "spec": {"storageClassName": "other-local", "accessModes": ["ReadWriteOnce"]},
    }
    got = findings(sc, pv("a"), claim)["persistence/local-volumes"]
    assert "which the chart does not render" in got[0]


def test_malformed_objects_do_not_crash_rules() -> None:
    weird = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "w"},
        "spec": {"template": {"spec": {"volumes": ["not-a-map"], "containers": "x"}}},
    }
    got = run_rules(RuleContext(parse(yaml.safe_dump(weird))))
    crashed = [f for f in got if "could not check this render" in f.message]
    assert crashed and all(f.severity.value == "error" for f in crashed)


def test_pdb_that_blocks_every_eviction_is_a_warning() -> None:
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    strict = yaml.safe_load(yaml.safe_dump(PDB))
    strict["spec"] = {"minAvailable": 3, "selector": {"matchLabels": {"app": "db"}}}
    got = run_rules(
        RuleContext(parse("".join("---\n" + yaml.safe_dump(o) for o in (sts(), headless, strict))))
    )
    [f] = [f for f in got if f.rule == "topology/pdb"]
    assert f.severity.value == "warning" and "node drains hang" in f.message


def test_spread_warning_for_replicated_statefulsets() -> None:
    headless = svc("db-headless", {"app": "db"}, clusterIP="None", publishNotReadyAddresses=True)
    assert (
        "several members may share one node" in findings(sts(), headless, PDB)["topology/spread"][0]
    )
    spread = sts()
    spread["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "db"}},
        }
    ]
    assert "topology/spread" not in findings(spread, headless, PDB)


def test_checksums_of_one_value_and_objects_without_data() -> None:
    """A checksum of the one file a Secret templates covers it (``tpl … | sha256sum``);
    a Secret rendered without data (a controller fills it) needs no checksum."""
    s = sts()
    pod = s["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "c", "secret": {"secretName": "db-config"}}]
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    config = "server:\n  port: 3101\n"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db-config"},
        "stringData": {"config.yaml": config},
    }
    assert "config/checksum-annotation" in findings(s, headless, PDB, secret)
    annotations = s["spec"]["template"]["metadata"].setdefault("annotations", {})
    annotations["checksum/app"] = hashlib.sha256(config.encode()).hexdigest()
    assert "config/checksum-annotation" not in findings(s, headless, PDB, secret)
    encoded = {**secret, "data": {"config.yaml": base64.b64encode(config.encode()).decode()}}
    del encoded["stringData"]
    assert "config/checksum-annotation" not in findings(s, headless, PDB, encoded)
    annotations["checksum/app"] = "0" * 64
    assert "config/checksum-annotation" in findings(s, headless, PDB, encoded)
    filled_later = {k: v for k, v in secret.items() if k != "stringData"}
    assert "config/checksum-annotation" not in findings(s, headless, PDB, filled_later)


def test_a_selector_on_a_label_the_pods_set_on_themselves_is_a_warning() -> None:
    """A leader that labels its own pod (Vault's vault-active, Patroni's role) is selected
    by a Service once it runs: a warning when the render lets its ServiceAccount patch
    pods, an error otherwise."""
    s = sts()
    s["spec"]["template"]["spec"]["serviceAccountName"] = "db"
    s["spec"]["template"]["metadata"]["labels"]["component"] = "server"
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    active = svc("db-active", {"app": "db", "component": "server", "db-active": "true"})
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "db-discovery"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "db-discovery"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "db-discovery",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "db"}],
    }
    objs = (s, headless, PDB, active, role)
    error = findings(*objs)["service/selector-matches"]
    assert len(error) == 1 and "nothing in the render runs such pods" in error[0]
    [warning] = findings(*objs, binding)["service/selector-matches"]
    assert "label themselves db-active at run time" in warning
    assert "ServiceAccount db may patch pods: Role/db-discovery" in warning
    read_only = {**role, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    assert (
        "nothing in the render"
        in findings(s, headless, PDB, active, read_only, binding)["service/selector-matches"][0]
    )
    # a webhook that patches other pods: the selector names no component of it
    release_wide = svc("db-dns", {"app": "db", "hasDNS": "true"})
    assert (
        "nothing in the render"
        in findings(s, headless, PDB, release_wide, role, binding)["service/selector-matches"][0]
    )
    other = svc("db-other", {"app": "web", "db-active": "true"})  # conflicts with app: db
    assert (
        "nothing in the render"
        in findings(s, headless, PDB, other, role, binding)["service/selector-matches"][0]
    )
    # only labels no template sets (Longhorn's webhook Services): pods the manager labels
    runtime_only = svc("db-webhook", {"db.io/admission-webhook": "db-admission-webhook"})
    [warning] = findings(s, headless, PDB, runtime_only, role, binding)["service/selector-matches"]
    assert "labelled db.io/admission-webhook at run time" in warning and "may patch pods" in warning
    assert (
        "nothing in the render"
        in findings(s, headless, PDB, runtime_only, role)["service/selector-matches"][0]
    )


def test_a_secret_openshift_writes_for_an_annotated_service_exists() -> None:
    s, headless = sts_with_volume({"name": "t", "secret": {"secretName": "ui-tls"}})
    assert "refs/exists" in findings(s, headless, PDB)
    annotated = svc("db-ui", {"app": "db"})
    annotated["metadata"]["annotations"] = {
        "service.beta.openshift.io/serving-cert-secret-name": "ui-tls"
    }
    assert "refs/exists" not in findings(s, headless, PDB, annotated)


def test_a_route_or_a_monitor_named_like_a_missing_object_does_not_create_it() -> None:
    s, headless = sts_with_volume({"name": "a", "configMap": {"name": "db-accesslist"}})
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "db"},
        "spec": {"parentRefs": [{"name": "gw"}]},
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "db"}}
    [error] = findings(s, headless, PDB, route)["refs/exists"]
    assert "no object in the render creates it" in error
    [candidate] = findings(s, headless, PDB, widget)["refs/exists"]
    assert "Widget/db (custom resource: its operator may create it)" in candidate


def test_a_checksum_key_names_an_object_with_its_words_run_together() -> None:
    s, headless = sts_with_volume({"name": "i", "configMap": {"name": "db-installinfo"}})
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "db-installinfo"},
        "data": {"a": "b"},
    }
    s["spec"]["template"]["metadata"]["annotations"] = {"checksum/install_info": "0" * 64}
    assert "config/checksum-annotation" not in findings(s, headless, PDB, cm)
    s["spec"]["template"]["metadata"]["annotations"] = {"checksum/install_log": "0" * 64}
    assert "config/checksum-annotation" in findings(s, headless, PDB, cm)


def test_a_volume_named_like_a_claim_template_is_that_claim() -> None:
    """The StatefulSet controller replaces a pod volume named like one of its
    volumeClaimTemplates by each pod's own claim: what the volume names is never read."""
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    s, headless = sts_with_volume({"name": "data", "persistentVolumeClaim": {"claimName": "x"}})
    assert "refs/exists" in findings(s, headless, PDB)  # a plain volume: the claim must exist
    s["spec"]["volumeClaimTemplates"] = [claim]
    assert "refs/exists" not in findings(s, headless, PDB)
    s["spec"]["template"]["spec"]["volumes"].append({"name": "c", "configMap": {"name": "gone"}})
    (missing,) = findings(s, headless, PDB)["refs/exists"]
    assert "ConfigMap 'gone'" in missing  # other volumes are still checked


def _pdb_findings(pdb_spec: dict, *extra: dict, **over: object) -> list[str]:
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    pdb = {**PDB, "spec": {**pdb_spec, "selector": {"matchLabels": {"app": "db"}}}}
    docs = (sts(**over), headless, pdb, *extra)
    got = run_rules(RuleContext(parse("".join("---\n" + yaml.safe_dump(o) for o in docs))))
    return [f"{f.severity.value} {f.message}" for f in got if f.rule == "topology/pdb"]


def test_a_percentage_pdb_is_rounded_up_as_the_disruption_controller_does() -> None:
    # 67% of 3 is 2.01, rounded up: 3 must stay, no pod may go
    [blocked] = _pdb_findings({"minAvailable": "67%"})
    assert blocked.startswith("warning") and "node drains hang" in blocked
    assert _pdb_findings({"minAvailable": "66%"}) == []  # 1.98 -> 2 of 3: one may go
    assert _pdb_findings({"minAvailable": "51%"}, replicas=2) != []
    assert _pdb_findings({"maxUnavailable": "10%"}) == []  # 0.3 -> 1
    assert _pdb_findings({"maxUnavailable": "0%"}) != []
    [both] = _pdb_findings({"minAvailable": 1, "maxUnavailable": 1})
    assert both.startswith("error") and "sets both minAvailable and maxUnavailable" in both


def test_a_statefulset_an_hpa_scales_is_replicated() -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "db"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
            "minReplicas": 3,
            "maxReplicas": 6,
        },
    }
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    docs = (sts(replicas=None), headless, hpa)
    got = run_rules(RuleContext(parse("".join("---\n" + yaml.safe_dump(o) for o in docs))))
    pdb = [f.message for f in got if f.rule == "topology/pdb"]
    spread = [f.message for f in got if f.rule == "topology/spread"]
    assert pdb and pdb[0].startswith("3 to 6 replicas (an HPA scales it) but no PodDisrupt")
    assert spread and spread[0].startswith("3 to 6 replicas (an HPA scales it) with neither")
    # at its fewest members, 3, a minAvailable of 3 lets no pod go
    assert _pdb_findings({"minAvailable": 3}, hpa, replicas=None) != []
    assert _pdb_findings({"minAvailable": 2}, hpa, replicas=None) == []


def test_a_checksum_of_a_template_that_renders_several_documents_covers_each() -> None:
    # linkerd: checksum/config of rbac.yaml, which renders a ServiceAccount and the Secret
    template = (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls2\nstringData:\n  tls.crt: abc\n"
    )
    s = sts()
    s["spec"]["template"]["spec"]["volumes"] = [{"name": "t", "secret": {"secretName": "tls2"}}]
    s["spec"]["template"]["metadata"]["annotations"] = {
        "checksum/config": hashlib.sha256(template.encode()).hexdigest()
    }
    headless = svc("db-headless", {"app": "db"}, clusterIP="None")
    source = "# Source: demo/templates/rbac.yaml\n"
    printed = "".join(f"---\n{source}{doc.strip()}\n" for doc in template.split("---\n"))
    others = "".join("---\n" + yaml.safe_dump(o) for o in (s, headless, PDB))
    ctx = RuleContext(parse(others + printed), checksum_convention="strict")
    assert not [f for f in run_rules(ctx) if f.rule == "config/checksum-annotation"]
    s["spec"]["template"]["metadata"]["annotations"]["checksum/config"] = "0" * 64
    others = "".join("---\n" + yaml.safe_dump(o) for o in (s, headless, PDB))
    ctx = RuleContext(parse(others + printed), checksum_convention="strict")
    assert [f for f in run_rules(ctx) if f.rule == "config/checksum-annotation"]
