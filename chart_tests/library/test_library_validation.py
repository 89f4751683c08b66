"""Every validation of the library fails the render with its own message naming the
value path (`destate: <path> must ... (got X)`); the JSON schema rejects unknown keys.

The template checks are reached with --skip-schema-validation (a chart rendered
without its schema must still fail clearly); the schema tests keep the schema on.
The failing renders run up front, three helm processes at a time, to keep the module
fast on a busy machine; each case is still its own test."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import HelmError, template

ErrorFn = Callable[..., str]

PATH_RULE = (
    "must be an absolute path of letters, digits and ._@+- "
    "(no spaces, quotes, $, .. or control characters)"
)
DNS_RULE = "must be a DNS name (lower-case letters, digits, - and .)"
LOCAL = {"enabled": True, "path": "/mnt/data", "nodes": ["n1", "n2", "n3"]}

CASES: list[tuple[str, dict[str, Any], str]] = [
    # workload
    (
        "replicas-negative",
        {"workload": {"replicas": -1}},
        "destate: workload.replicas must be >= 0 (got -1)",
    ),
    (
        "replicas-fraction",
        {"workload": {"replicas": 1.5}},
        'destate: workload.replicas must be an integer (got "1.5")',
    ),
    # persistence
    (
        "size-not-quantity",
        {"persistence": {"size": "lots"}},
        'destate: persistence.size must be a Kubernetes quantity such as 8Gi or 500Mi (got "lots")',
    ),
    (
        "retention-deleted",
        {"persistence": {"retention": {"whenDeleted": "Keep"}}},
        'destate: persistence.retention.whenDeleted must be one of Retain|Delete (got "Keep")',
    ),
    (
        "retention-scaled",
        {"persistence": {"retention": {"whenScaled": "Drop"}}},
        'destate: persistence.retention.whenScaled must be one of Retain|Delete (got "Drop")',
    ),
    (
        "access-modes-empty",
        {"persistence": {"accessModes": []}},
        "destate: persistence.accessModes must list at least one access mode (got [])",
    ),
    (
        "access-mode-unknown",
        {"persistence": {"accessModes": ["ReadWriteSometimes"]}},
        "destate: persistence.accessModes[] must be one of "
        'ReadWriteOnce|ReadOnlyMany|ReadWriteMany|ReadWriteOncePod (got "ReadWriteSometimes")',
    ),
    (
        "existing-claim-statefulset",
        {"persistence": {"existingClaim": "shared"}},
        "destate: persistence.existingClaim must be empty for a StatefulSet: every pod gets "
        'its own claim from volumeClaimTemplates (got "shared")',
    ),
    (
        "local-too-few-nodes",
        {"persistence": {"local": {**LOCAL, "nodes": ["n1", "n2"]}}},
        "destate: persistence.local.nodes must list at least workload.replicas (3) nodes, "
        "one local volume per pod (got 2)",
    ),
    (
        "local-repeated-node",
        {"persistence": {"local": {**LOCAL, "nodes": ["n1", "n1", "n2"]}}},
        'destate: persistence.local.nodes must not repeat a node (got ["n1","n1","n2"])',
    ),
    (
        "local-relative-path",
        {"persistence": {"local": {**LOCAL, "path": "data"}}},
        'destate: persistence.local.path must be an absolute path (got "data")',
    ),
    (
        "local-reclaim",
        {"persistence": {"local": {**LOCAL, "reclaimPolicy": "Recycle"}}},
        'destate: persistence.local.reclaimPolicy must be one of Retain|Delete (got "Recycle")',
    ),
    # config
    (
        "config-mount-relative",
        {"config": {"mountPath": "etc/app"}},
        'destate: config.mountPath must be an absolute path (got "etc/app")',
    ),
    (
        "secret-mount-relative",
        {"config": {"secretMountPath": "secrets"}},
        'destate: config.secretMountPath must be an absolute path or empty (got "secrets")',
    ),
    (
        "files-and-existing",
        {"config": {"existingConfigMap": "mine"}},
        "destate: config.existingConfigMap must be empty when config.files is set "
        '(use one or the other) (got "mine")',
    ),
    (
        "secrets-and-existing",
        {"config": {"existingSecret": "mine"}},
        "destate: config.existingSecret must be empty when config.secrets is set "
        '(use one or the other) (got "mine")',
    ),
    (
        "password-short",
        {"config": {"passwordLength": 4}},
        "destate: config.passwordLength must be >= 8 (got 4)",
    ),
    # topology
    (
        "pod-management",
        {"topology": {"podManagementPolicy": "Random"}},
        'destate: topology.podManagementPolicy must be one of OrderedReady|Parallel (got "Random")',
    ),
    (
        "anti-affinity",
        {"topology": {"antiAffinity": "strict"}},
        'destate: topology.antiAffinity must be one of soft|hard|none (got "strict")',
    ),
    (
        "ordinals-negative",
        {"topology": {"ordinals": {"start": -2}}},
        "destate: topology.ordinals.start must be >= 0 (got -2)",
    ),
    (
        "primary-missing",
        {"topology": {"primaryOrdinal": 3}},
        "destate: topology.primaryOrdinal must be an existing pod ordinal (0..2) (got 3)",
    ),
    (
        "cluster-domain",
        {"topology": {"clusterDomain": ""}},
        'destate: topology.clusterDomain must not be empty (got "")',
    ),
    # session
    (
        "session-mode",
        {"session": {"mode": "cookie"}},
        'destate: session.mode must be one of none|store|sticky (got "cookie")',
    ),
    (
        "sticky-timeout-zero",
        {"session": {"mode": "sticky", "sticky": {"timeoutSeconds": 0}}},
        "destate: session.sticky.timeoutSeconds must be an integer in 1..86400 (got 0)",
    ),
    (
        "sticky-timeout-high",
        {"session": {"mode": "sticky", "sticky": {"timeoutSeconds": 86401}}},
        "destate: session.sticky.timeoutSeconds must be an integer in 1..86400 (got 86401)",
    ),
    (
        "cookie-mode",
        {"session": {"mode": "sticky", "sticky": {"cookie": {"mode": "sometimes"}}}},
        'destate: session.sticky.cookie.mode must be one of persistent|balanced (got "sometimes")',
    ),
    (
        "store-without-secret",
        {"session": {"mode": "store", "store": {"embedded": False}}},
        "destate: session.store.existingSecret must name the Secret holding the store URL "
        'when session.store.embedded is false (got "")',
    ),
    (
        "redis-size",
        {"session": {"mode": "store", "store": {"redis": {"persistence": {"size": "big"}}}}},
        "destate: session.store.redis.persistence.size must be a Kubernetes quantity "
        'such as 8Gi or 500Mi (got "big")',
    ),
    (
        "redis-replicas",
        {"session": {"mode": "store", "store": {"redis": {"workload": {"replicas": -3}}}}},
        "destate: session.store.redis.workload.replicas must be >= 0 (got -3)",
    ),
    # connection
    (
        "connection-mode",
        {"connection": {"mode": "mesh"}},
        'destate: connection.mode must be one of none|ingress|gateway|envoy|client (got "mesh")',
    ),
    (
        "connection-port",
        {"connection": {"port": 70000}},
        "destate: connection.port must be a port number in 1..65535 (got 70000)",
    ),
    (
        "ingress-without-tls",
        {"connection": {"mode": "ingress"}},
        "destate: connection.ingress.tls.secretName must name a TLS Secret: gRPC through "
        'ingress-nginx needs TLS (HTTP/2) at the ingress (got "")',
    ),
    (
        "ingress-protocol",
        {
            "connection": {
                "mode": "ingress",
                "ingress": {"backendProtocol": "HTTP", "tls": {"secretName": "t"}},
            }
        },
        'destate: connection.ingress.backendProtocol must be one of GRPC|GRPCS (got "HTTP")',
    ),
    (
        "gateway-without-parents",
        {"connection": {"mode": "gateway", "gateway": {"force": True}}},
        "destate: connection.gateway.parentRefs must list at least one Gateway for the "
        "GRPCRoute (got [])",
    ),
    (
        "envoy-lb",
        {"connection": {"mode": "envoy", "envoy": {"lbPolicy": "RANDOM"}}},
        "destate: connection.envoy.lbPolicy must be one of ROUND_ROBIN|LEAST_REQUEST "
        '(got "RANDOM")',
    ),
    (
        "client-age",
        {"connection": {"mode": "client", "client": {"maxConnectionAgeSeconds": 0}}},
        "destate: connection.client.maxConnectionAgeSeconds must be >= 1 (got 0)",
    ),
    # connection: server TLS and GRPCS
    (
        "grpcs-without-server-cert",
        {
            "connection": {
                "mode": "ingress",
                "ingress": {"backendProtocol": "GRPCS", "tls": {"secretName": "t"}},
            }
        },
        "destate: connection.tls.existingSecret must name the server's TLS Secret (tls.crt, "
        "tls.key, ca.crt) when connection.ingress.backendProtocol is GRPCS: without it the "
        'pods serve plaintext (h2c) (got "")',
    ),
    (
        "tls-server-behind-grpc-ingress",
        {
            "connection": {
                "mode": "ingress",
                "ingress": {"tls": {"secretName": "t"}},
                "tls": {"existingSecret": "srv"},
            }
        },
        "destate: connection.ingress.backendProtocol must be GRPCS when "
        'connection.tls.existingSecret is set: the pods serve TLS only (got "GRPC")',
    ),
    (
        "tls-secret-name",
        {"connection": {"tls": {"existingSecret": "srv\n  evil: 1"}}},
        "destate: connection.tls.existingSecret must be a Secret name (lower-case DNS "
        'subdomain) (got "srv\\n  evil: 1")',
    ),
    (
        "tls-server-name",
        {"connection": {"tls": {"existingSecret": "srv", "serverName": "a b"}}},
        "destate: connection.tls.serverName must be a DNS name (lower-case letters, digits, - "
        'and .) or empty (got "a b")',
    ),
    (
        "tls-health-port-clash",
        {"connection": {"tls": {"existingSecret": "srv", "healthPort": 50051}}},
        "destate: connection.tls.healthPort must differ from connection.port (50051)",
    ),
    # connection: Envoy limits and timeouts (values that reach envoy.yaml verbatim)
    (
        "envoy-duration-injection",
        {"connection": {"envoy": {"downstream": {"timeouts": {"idle": "1s\nadmin: {}"}}}}},
        "destate: connection.envoy.downstream.timeouts.idle must be a duration in seconds "
        'such as 10s or 0.25s (got "1s\\nadmin: {}")',
    ),
    (
        "envoy-duration-unit",
        {"connection": {"envoy": {"healthCheck": {"interval": "5m"}}}},
        "destate: connection.envoy.healthCheck.interval must be a duration in seconds such as "
        '10s or 0.25s (got "5m")',
    ),
    (
        "envoy-connect-timeout-zero",
        {"connection": {"envoy": {"connectTimeout": "0.0s"}}},
        'destate: connection.envoy.connectTimeout must be a duration > 0s (got "0.0s")',
    ),
    (
        "envoy-max-connections-zero",
        {"connection": {"envoy": {"downstream": {"maxConnections": 0}}}},
        "destate: connection.envoy.downstream.maxConnections must be an integer in "
        "1..1000000 (got 0)",
    ),
    (
        "envoy-window-too-small",
        {"connection": {"envoy": {"downstream": {"http2": {"initialStreamWindowSize": 1024}}}}},
        "destate: connection.envoy.downstream.http2.initialStreamWindowSize must be an integer "
        "in 65535..2147483647 (got 1024)",
    ),
    (
        "envoy-circuit-breaker-text",
        {"connection": {"envoy": {"upstream": {"circuitBreakers": {"maxRequests": "many"}}}}},
        "destate: connection.envoy.upstream.circuitBreakers.maxRequests must be an integer in "
        '1..4294967295 (got "many")',
    ),
    (
        "envoy-ejection-percent",
        {"connection": {"envoy": {"upstream": {"outlierDetection": {"maxEjectionPercent": 150}}}}},
        "destate: connection.envoy.upstream.outlierDetection.maxEjectionPercent must be an "
        "integer in 0..100 (got 150)",
    ),
    # image
    ("image-repository", {"image": {"repository": ""}}, "destate: image.repository must be set"),
    # hostile values (issue 11): nothing that could reach a script, a .cnf, envoy.yaml or an
    # unquoted YAML scalar gets past the templates, even without the schema
    (
        "hostile-cluster-domain",
        {"topology": {"clusterDomain": "cluster.local\nskip-grant-tables"}},
        f'destate: topology.clusterDomain {DNS_RULE} (got "cluster.local\\nskip-grant-tables")',
    ),
    (
        "hostile-config-mount",
        {"config": {"mountPath": "/etc/app/$(id)"}},
        f'destate: config.mountPath {PATH_RULE} (got "/etc/app/$(id)")',
    ),
    (
        "hostile-secret-mount",
        {"config": {"secretMountPath": '/etc/s"; reboot'}},
        f"destate: config.secretMountPath {PATH_RULE}",
    ),
    (
        "hostile-data-mount",
        {"persistence": {"mountPath": "/data/../etc"}},
        f'destate: persistence.mountPath {PATH_RULE} (got "/data/../etc")',
    ),
    (
        "hostile-sub-path",
        {"persistence": {"subPath": "../etc"}},
        "destate: persistence.subPath must be a relative path",
    ),
    (
        "hostile-local-path",
        {"persistence": {"local": {**LOCAL, "path": "/mnt/a b"}}},
        f'destate: persistence.local.path {PATH_RULE} (got "/mnt/a b")',
    ),
    (
        "hostile-fullname",
        {"fullnameOverride": "t;id"},
        "destate: fullnameOverride must be a DNS label: at most 63 lower-case letters, "
        'digits and -, starting and ending with a letter or digit (got "t;id")',
    ),
    ("hostile-name", {"nameOverride": "x\ny"}, "destate: nameOverride must be a DNS label"),
    (
        "hostile-image-tag",
        {"image": {"tag": "1.0\ncommand: [sh]"}},
        "destate: image.tag must be an image tag",
    ),
    (
        "hostile-service-account",
        {"workload": {"serviceAccountName": "a b"}},
        f'destate: workload.serviceAccountName {DNS_RULE} (got "a b")',
    ),
    (
        "hostile-topology-key",
        {"topology": {"antiAffinityTopologyKey": "kubernetes.io/hostname\n  x: y"}},
        "destate: topology.antiAffinityTopologyKey must be a label key",
    ),
    (
        "hostile-file-name",
        {"config": {"files": {"../x.conf": "x"}}},
        "destate: config.files must have file names of letters, digits and ._- (not . or ..) "
        '(got "../x.conf")',
    ),
    (
        "file-entry-keys",
        {"config": {"files": {"app.conf": {"contents": "x"}}}},
        "destate: config.files.app.conf must be a string or a map with the keys content and tpl "
        "(got the key(s) contents)",
    ),
    (
        "file-entry-tpl",
        {"config": {"files": {"app.conf": {"content": "x", "tpl": "yes"}}}},
        'destate: config.files.app.conf.tpl must be true or false (got "yes")',
    ),
    (
        "hostile-env-name",
        {"session": {"store": {"env": {"url": "X\n  value: y"}}}},
        "destate: session.store.env.url must be an environment variable name",
    ),
    (
        "hostile-cookie",
        {"session": {"sticky": {"cookie": {"name": "a;b"}}}},
        "destate: session.sticky.cookie.name must be a cookie name of letters, digits and _.- "
        '(got "a;b")',
    ),
    (
        "redis-three-pods",
        {"session": {"mode": "store", "store": {"redis": {"workload": {"replicas": 3}}}}},
        "destate: session.store.redis.workload.replicas must be 0 or 1: the embedded Redis is one "
        "instance without replication",
    ),
    (
        "redis-password-chars",
        {"session": {"store": {"redis": {"auth": {"password": "a b c d e f"}}}}},
        "destate: session.store.redis.auth.password must be 8..128 letters, digits and ._~-",
    ),
    (
        "envoy-listen",
        {"connection": {"envoy": {"listenAddress": "0.0.0.0\nx"}}},
        "destate: connection.envoy.listenAddress must be an IP address",
    ),
    (
        "envoy-upstream",
        {"connection": {"envoy": {"upstream": {"host": "a b"}}}},
        f'destate: connection.envoy.upstream.host {DNS_RULE} or empty (got "a b")',
    ),
    (
        "client-env",
        {"connection": {"client": {"env": {"maxConnectionAge": "1X"}}}},
        "destate: connection.client.env.maxConnectionAge must be an environment variable name",
    ),
    (
        "ingress-path",
        {"connection": {"ingress": {"path": "/;x"}}},
        "destate: connection.ingress.path must be a URL path of letters, digits and ._~/- "
        'starting with / (got "/;x")',
    ),
    # template misuse (arguments, not values)
    (
        "argument-typo",
        {"libtest": {"misuse": "unknownArgument"}},
        'destate: destate.workload.statefulset got an unknown argument "contianer"',
    ),
    (
        "argument-no-ctx",
        {"libtest": {"misuse": "missingCtx"}},
        "destate: destate.names.fullname needs the key ctx (the root context $)",
    ),
    (
        "argument-root-instead-of-dict",
        {"libtest": {"misuse": "notADict"}},
        "destate: destate.names.fullname needs the key ctx (the root context $)",
    ),
    (
        "argument-no-ordinal",
        {"libtest": {"misuse": "missingOrdinal"}},
        "destate: destate.topology.peerAddress needs ordinal",
    ),
    (
        "argument-no-kind",
        {"libtest": {"misuse": "missingKind"}},
        "destate: destate.persistence.volumes needs kind (StatefulSet|Deployment)",
    ),
    (
        "port-without-name",
        {"libtest": {"misuse": "portWithoutName"}},
        "destate: every Service port needs a name",
    ),
]


def run_all(render_error: ErrorFn, cases: list[tuple[str, dict[str, Any], bool]]) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            case_id: pool.submit(render_error, values, schema) for case_id, values, schema in cases
        }
        return {case_id: future.result() for case_id, future in futures.items()}


@pytest.fixture(scope="module")
def errors(render_error: ErrorFn) -> dict[str, str]:
    cases = [(f"template/{i}", v, False) for i, (_, v, _) in enumerate(CASES)]
    cases += [(f"schema/{i}", v, True) for i, (_, v, _) in enumerate(SCHEMA_CASES)]
    return run_all(render_error, cases)


@pytest.mark.parametrize(
    ("index", "message"),
    [(i, m) for i, (_, _, m) in enumerate(CASES)],
    ids=[case_id for case_id, _, _ in CASES],
)
def test_template_validation_message(errors: dict[str, str], index: int, message: str) -> None:
    err = errors[f"template/{index}"]
    assert message in err
    assert "Traceback" not in err
    # one error, not a cascade
    assert err.count("destate: ") == 1, err


SCHEMA_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "unknown-top-level-key",
        {"persitence": {"size": "1Gi"}},
        ["additional properties 'persitence' not allowed"],
    ),
    (
        "unknown-nested-key",
        {"workload": {"replica": 2}},
        ["/workload", "additional properties 'replica' not allowed"],
    ),
    ("negative-replicas", {"workload": {"replicas": -1}}, ["/workload/replicas", "minimum"]),
    ("bad-mode", {"connection": {"mode": "mesh"}}, ["/connection/mode"]),
    (
        "timeout-range",
        {"session": {"sticky": {"timeoutSeconds": 90000}}},
        ["/session/sticky/timeoutSeconds", "maximum"],
    ),
    ("size-pattern", {"persistence": {"size": "8 GB"}}, ["/persistence/size"]),
    (
        "envoy-duration-pattern",
        {"connection": {"envoy": {"downstream": {"timeouts": {"streamIdle": "5 minutes"}}}}},
        ["/connection/envoy/downstream/timeouts/streamIdle", "does not match pattern"],
    ),
    (
        "envoy-streams-minimum",
        {"connection": {"envoy": {"downstream": {"http2": {"maxConcurrentStreams": 0}}}}},
        ["/connection/envoy/downstream/http2/maxConcurrentStreams", "minimum"],
    ),
    (
        "tls-unknown-key",
        {"connection": {"tls": {"secretName": "srv"}}},
        ["/connection/tls", "additional properties 'secretName' not allowed"],
    ),
    (
        "redis-unknown",
        {"session": {"store": {"redis": {"workload": {"replics": 1}}}}},
        ["/session/store/redis/workload", "'replics'"],
    ),
]


@pytest.mark.parametrize(
    ("index", "fragments"),
    [(i, f) for i, (_, _, f) in enumerate(SCHEMA_CASES)],
    ids=[case_id for case_id, _, _ in SCHEMA_CASES],
)
def test_schema_rejects(errors: dict[str, str], index: int, fragments: list[str]) -> None:
    err = errors[f"schema/{index}"]
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("case_id", ["replicas-negative", "local-too-few-nodes", "argument-typo"])
def test_helm3_reports_the_same_message(helm3: Path, lib_chart: Path, case_id: str) -> None:
    values, message = next((v, m) for c, v, m in CASES if c == case_id)
    with pytest.raises(HelmError) as failure:
        template(helm3, lib_chart, values, extra=["--skip-schema-validation"])
    assert message in failure.value.stderr
