"""destate.session.*: sticky sessions (ClientIP, cookie, Gateway sessionPersistence
only when asked) and the session store (embedded Redis built from the library's own
templates, or an existing store Secret)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import yaml
from conftest import NAMESPACE, Render, RenderFn
from destate_libtest import container, env_map, go_json_sha256, pod_spec, volume

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
    # no password on the command line: redis.conf includes the file redis-auth writes
    assert redis["command"] == ["redis-server", "/etc/redis/redis.conf"]
    assert {"name": "data", "mountPath": "/data"} in redis["volumeMounts"]
    conf = store.get("ConfigMap", volume(pod, "config")["configMap"]["name"])
    assert "appendonly yes" in conf["data"]["redis.conf"]
    assert "dir /data" in conf["data"]["redis.conf"]
    assert conf["data"]["redis.conf"].endswith("\ninclude /destate/redis-auth/auth.conf")
    env = env_map(redis)
    assert env["REDISCLI_AUTH"] == {"secretKeyRef": {"name": STORE_SECRET, "key": "password"}}
    assert "REDIS_PASSWORD" not in env
    probe = redis["readinessProbe"]["exec"]["command"]
    assert probe == ["sh", "-c", "redis-cli ping | grep -q PONG"]
    (init,) = pod["initContainers"]
    assert init["name"] == "redis-auth" and "env" not in init
    assert {m["name"] for m in init["volumeMounts"]} == {"redis-password", "redis-auth"}
    assert volume(pod, "redis-password")["secret"] == {
        "secretName": STORE_SECRET,
        "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}],
    }
    assert volume(pod, "redis-auth")["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Mi"}
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    # a new password rolls Redis (the init container writes it at start)
    secret = store.get("Secret", STORE_SECRET)
    checksum = sts["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    assert checksum == go_json_sha256(secret["data"])
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


def test_redis_password_from_values_or_an_existing_secret(render: RenderFn) -> None:
    """The ways out of an offline render that would generate the Redis password (the
    charts' tests render them without the placeholder opt-in)."""
    chosen = render(
        {
            "session": {"mode": "store", "store": {"redis": {"auth": {"password": "a.b_c~d-e1"}}}},
        },
        extra=["--show-only", "templates/session.yaml"],
    )
    data = chosen.get("Secret", STORE_SECRET)["data"]
    assert base64.b64decode(data["password"]).decode() == "a.b_c~d-e1"
    existing = render(
        {
            "session": {
                "mode": "store",
                "store": {"redis": {"auth": {"existingSecret": "vault-redis"}}},
            },
        },
        extra=["--show-only", "templates/session.yaml"],
    )
    assert STORE_SECRET not in existing.names("Secret")
    pod = pod_spec(existing.get("StatefulSet", REDIS))
    assert env_map(container(pod, "redis"))["REDISCLI_AUTH"] == {
        "secretKeyRef": {"name": "vault-redis", "key": "password"}
    }
    assert volume(pod, "redis-password")["secret"]["secretName"] == "vault-redis"
    assert "checksum/secret" not in existing.get("StatefulSet", REDIS)["spec"]["template"][
        "metadata"
    ].get("annotations", {})


def test_redis_password_offline_fails_closed_naming_the_redis_values(
    render_error: Callable[..., str],
) -> None:
    message = render_error(
        {
            "global": {"destate": {"insecurePredictablePasswords": False}},
            "config": {"secrets": {"admin-password": "given"}},
            "session": {"mode": "store"},
        },
        schema=True,
    )
    assert (
        "destate: session.store.redis.auth.password must be set, or "
        "session.store.redis.auth.existingSecret name a Secret" in message
    )


@pytest.mark.parametrize("schema", [True, False], ids=["schema", "template"])
def test_embedded_redis_refuses_more_than_one_pod(
    render_error: Callable[..., str], schema: bool
) -> None:
    values = {"session": {"mode": "store", "store": {"redis": {"workload": {"replicas": 3}}}}}
    message = render_error(values, schema=schema)
    if schema:
        assert "/session/store/redis/workload/replicas" in message and "maximum" in message
    else:
        assert (
            "destate: session.store.redis.workload.replicas must be 0 or 1: the embedded "
            "Redis is one instance without replication" in message
        )
        assert "(got 3)" in message
