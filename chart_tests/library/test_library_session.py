"""destate.session.*: sticky sessions (ClientIP, cookie, Gateway sessionPersistence
only when asked) and the session store (embedded Redis built from the library's own
templates, or an existing store Secret)."""

from __future__ import annotations

import base64

import pytest
import yaml
from conftest import NAMESPACE, Render, RenderFn
from destate_libtest import container, env_map, pod_spec, volume

FULL = "t-libtest"
REDIS = f"{FULL}-redis"
STORE_SECRET = f"{FULL}-session-store"


@pytest.fixture(scope="module")
def sticky(render: RenderFn) -> Render:
    return render({"session": {"mode": "sticky", "sticky": {"timeoutSeconds": 600}}})


@pytest.fixture(scope="module")
def store(render: RenderFn) -> Render:
    return render({"session": {"mode": "store"}})


def test_sticky_client_ip_affinity(sticky: Render) -> None:
    read = sticky.get("Service", f"{FULL}-read")["spec"]
    assert read["sessionAffinity"] == "ClientIP"
    assert read["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    # the headless Service serves DNS, never affinity
    assert "sessionAffinity" not in sticky.get("Service", f"{FULL}-headless")["spec"]


def test_sticky_cookie_annotations(sticky: Render) -> None:
    helpers = sticky.get("ConfigMap", "libtest-helpers")["data"]
    ann = yaml.safe_load(helpers["session-ingress-annotations"])
    assert ann == {
        "nginx.ingress.kubernetes.io/affinity": "cookie",
        "nginx.ingress.kubernetes.io/affinity-mode": "persistent",
        "nginx.ingress.kubernetes.io/session-cookie-name": "DESTATE_SESSION",
        "nginx.ingress.kubernetes.io/session-cookie-max-age": "10800",
        "nginx.ingress.kubernetes.io/session-cookie-path": "/",
        "nginx.ingress.kubernetes.io/session-cookie-samesite": "Lax",
    }
    # Gateway sessionPersistence is experimental: absent unless asked for
    assert helpers["session-persistence"] == ""
    assert helpers["session-store-env"] == ""


def test_gateway_session_persistence_when_asked(render: RenderFn) -> None:
    out = render(
        {
            "session": {
                "mode": "sticky",
                "sticky": {"timeoutSeconds": 3600, "gatewaySessionPersistence": True},
            }
        },
        extra=["--show-only", "templates/helpers.yaml"],
    )
    data = out.get("ConfigMap", "libtest-helpers")["data"]
    assert yaml.safe_load(data["session-persistence"]) == {
        "sessionPersistence": {
            "sessionName": "DESTATE_SESSION",
            "type": "Cookie",
            "absoluteTimeout": "3600s",
            "cookieConfig": {"lifetimeType": "Permanent"},
        }
    }


def test_no_session_features_by_default(default_out: Render) -> None:
    out = default_out
    assert REDIS not in out.names("StatefulSet")
    data = out.get("ConfigMap", "libtest-helpers")["data"]
    assert data["session-affinity"] == data["session-ingress-annotations"] == ""


def test_embedded_redis_is_built_from_library_templates(store: Render) -> None:
    sts = store.get("StatefulSet", REDIS)
    spec = sts["spec"]
    assert spec["serviceName"] == f"{REDIS}-headless"
    assert store.get("Service", f"{REDIS}-headless")["spec"]["clusterIP"] == "None"
    assert spec["replicas"] == 1
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    pod = pod_spec(sts)
    redis = container(pod, "redis")
    assert redis["image"] == "redis:7.4"
    assert sts["metadata"]["labels"]["app.kubernetes.io/version"] == "7.4"
    assert sts["metadata"]["labels"]["app.kubernetes.io/part-of"] == "libtest"
    assert redis["command"][:2] == ["redis-server", "/etc/redis/redis.conf"]
    assert {"name": "data", "mountPath": "/data"} in redis["volumeMounts"]
    conf = store.get("ConfigMap", volume(pod, "config")["configMap"]["name"])
    assert "appendonly yes" in conf["data"]["redis.conf"]
    assert "dir /data" in conf["data"]["redis.conf"]
    assert env_map(redis)["REDIS_PASSWORD"] == {
        "secretKeyRef": {"name": STORE_SECRET, "key": "password"}
    }
    assert pod["securityContext"]["runAsUser"] == 999
    assert redis["securityContext"]["readOnlyRootFilesystem"] is True
    # the Redis pods are not selected by the chart's own Services
    main_selector = store.get("Service", f"{FULL}-read")["spec"]["selector"]
    assert not main_selector.items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_store_secret_url_points_at_redis_service(store: Render) -> None:
    secret = store.get("Secret", STORE_SECRET)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    password = base64.b64decode(secret["data"]["password"]).decode()
    url = base64.b64decode(secret["data"]["url"]).decode()
    service = store.get("Service", REDIS)
    assert service["spec"]["ports"][0]["port"] == 6379
    assert url == f"redis://:{password}@{REDIS}.{NAMESPACE}.svc.cluster.local:6379/0"


def test_app_gets_store_env(store: Render) -> None:
    env = env_map(container(pod_spec(store.get("StatefulSet", FULL)), "app"))
    assert env["SESSION_BACKEND"] == "redis"
    assert env["SESSION_STORE_URL"] == {"secretKeyRef": {"name": STORE_SECRET, "key": "url"}}


def test_existing_store_secret_replaces_embedded_redis(render: RenderFn) -> None:
    out = render(
        {
            "session": {
                "mode": "store",
                "store": {
                    "existingSecret": "external-redis",
                    "urlKey": "redis-url",
                    "env": {"url": "REDIS_URL", "backend": "STORE_KIND"},
                },
            }
        }
    )
    assert REDIS not in out.names("StatefulSet")
    assert STORE_SECRET not in out.names("Secret")
    env = env_map(container(pod_spec(out.get("StatefulSet", FULL)), "app"))
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "external-redis", "key": "redis-url"}}
    assert env["STORE_KIND"] == "redis"
    assert "SESSION_STORE_URL" not in env


def test_embedded_redis_tuning(render: RenderFn) -> None:
    out = render(
        {
            "session": {
                "mode": "store",
                "store": {
                    "redis": {
                        "persistence": {"size": "5Gi", "storageClass": "fast"},
                        "workload": {"resources": {"limits": {"memory": "256Mi"}}},
                        "topology": {"pdb": {"enabled": True}},
                    }
                },
            }
        },
        extra=["--show-only", "templates/session.yaml"],
    )
    sts = out.get("StatefulSet", REDIS)
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert claim["storageClassName"] == "fast"
    assert container(pod_spec(sts), "redis")["resources"] == {"limits": {"memory": "256Mi"}}
    assert (
        out.get("PodDisruptionBudget", REDIS)["spec"]["selector"]["matchLabels"]
        == (sts["spec"]["selector"]["matchLabels"])
    )
