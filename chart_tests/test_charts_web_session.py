"""What charts/web-session renders means (library README, kinds of state): config and session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "web-session"
FULL = "web-web-session"
RELEASE = "web"

STICKY_INGRESS = {
    "session": {"mode": "sticky", "sticky": {"timeoutSeconds": 600}},
    "expose": {"mode": "ingress", "ingress": {"host": "s.example.com"}},
}
STICKY_GATEWAY = {
    "session": {"mode": "sticky", "sticky": {"gatewaySessionPersistence": True}},
    "expose": {"mode": "gateway", "gateway": {"force": True, "parentRefs": [{"name": "gw"}]}},
}


@pytest.fixture(scope="module")
def store(render_chart: ChartRenderer) -> Rendered:
    return render_chart(CHART, release=RELEASE)


@pytest.fixture(scope="module")
def sticky(render_chart: ChartRenderer) -> Rendered:
    return render_chart(CHART, STICKY_INGRESS, release=RELEASE)


def _app(out: Rendered) -> dict[str, Any]:
    containers = out.get("Deployment", FULL)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "app")


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_store_mode_wires_the_app_to_the_embedded_redis(store: Rendered) -> None:
    env = _env(_app(store))
    assert env["SESSION_BACKEND"] == "redis"
    assert env["SESSION_STORE_URL"] == {
        "secretKeyRef": {"name": f"{FULL}-session-store", "key": "url"}
    }
    assert store.has("StatefulSet", f"{FULL}-redis")
    assert store.has("Secret", f"{FULL}-session-store")
    redis_svc = store.get("Service", f"{FULL}-redis")
    app_svc = store.get("Service", FULL)
    # the app's Service never selects Redis pods and vice versa
    redis_labels = store.get("StatefulSet", f"{FULL}-redis")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert not all(redis_labels.get(k) == v for k, v in app_svc["spec"]["selector"].items())
    assert redis_svc["spec"]["selector"]["app.kubernetes.io/component"] == "redis"
    assert "sessionAffinity" not in app_svc["spec"]


def test_store_mode_with_an_external_store(render_chart: ChartRenderer) -> None:
    out = render_chart(
        CHART,
        {"session": {"store": {"embedded": False, "existingSecret": "my-redis", "urlKey": "u"}}},
        release=RELEASE,
    )
    assert not out.has("StatefulSet")
    assert not out.has("Secret", f"{FULL}-session-store")
    assert _env(_app(out))["SESSION_STORE_URL"] == {
        "secretKeyRef": {"name": "my-redis", "key": "u"}
    }


def test_a_new_store_password_rolls_redis_and_the_app(
    store: Rendered, render_chart: ChartRenderer
) -> None:
    # the app reads SESSION_STORE_URL at start: left running, it keeps the old password
    def rolls(out: Rendered) -> tuple[str, str]:
        app = out.get("Deployment", FULL)["spec"]["template"]["metadata"]["annotations"]
        redis = out.get("StatefulSet", f"{FULL}-redis")["spec"]["template"]["metadata"]
        return app["checksum/session-store"], redis["annotations"]["checksum/secret"]

    before = rolls(store)
    password = {"session": {"store": {"redis": {"auth": {"password": "n3w-passw0rd"}}}}}
    after = rolls(render_chart(CHART, password, release=RELEASE))
    assert before[0] == before[1] and after[0] == after[1] and before != after
    # a Secret the user manages is the user's to roll
    external = {"session": {"store": {"redis": {"auth": {"existingSecret": "mine"}}}}}
    out = render_chart(CHART, external, release=RELEASE)
    annotations = out.get("Deployment", FULL)["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/session-store" not in annotations


def test_external_store_needs_its_secret(render_chart: ChartRenderer) -> None:
    message = render_chart.error(CHART, {"session": {"store": {"embedded": False}}})
    assert "session.store.existingSecret" in message


def test_sticky_mode_uses_client_ip_affinity_and_cookie_ingress(sticky: Rendered) -> None:
    svc = sticky.get("Service", FULL)["spec"]
    assert svc["sessionAffinity"] == "ClientIP"
    assert svc["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    ingress = sticky.get("Ingress", FULL)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"] == "DESTATE_SESSION"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULL, "port": {"name": "http"}}
    env = _env(_app(sticky))
    assert "SESSION_STORE_URL" not in env
    assert not sticky.has("StatefulSet")


def test_ingress_without_sticky_has_no_affinity(render_chart: ChartRenderer) -> None:
    out = render_chart(
        CHART, {"expose": {"mode": "ingress", "ingress": {"tls": {"secretName": "t"}}}}
    )
    ingress = out.get("Ingress")
    assert "nginx.ingress.kubernetes.io/affinity" not in (
        ingress["metadata"].get("annotations") or {}
    )
    assert ingress["spec"]["tls"] == [{"secretName": "t"}]


def test_sticky_gateway_adds_session_persistence(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, STICKY_GATEWAY, release=RELEASE)
    route = out.get("HTTPRoute", FULL)
    rule = route["spec"]["rules"][0]
    assert rule["backendRefs"] == [{"name": FULL, "port": 80}]
    assert rule["sessionPersistence"]["type"] == "Cookie"
    assert rule["sessionPersistence"]["absoluteTimeout"] == "10800s"
    assert route["spec"]["parentRefs"] == [{"name": "gw"}]


def test_gateway_without_the_api_fails_clearly(render_chart: ChartRenderer) -> None:
    values = {"expose": {"mode": "gateway", "gateway": {"parentRefs": [{"name": "gw"}]}}}
    assert "expose.gateway.force" in render_chart.error(CHART, values)
    out = render_chart(CHART, values, api_versions=["gateway.networking.k8s.io/v1/HTTPRoute"])
    assert out.has("HTTPRoute")


def test_gateway_needs_parent_refs(render_chart: ChartRenderer) -> None:
    message = render_chart.error(CHART, {"expose": {"mode": "gateway", "gateway": {"force": True}}})
    assert "expose.gateway.parentRefs" in message


def test_config_is_mounted_and_its_checksum_rolls_pods(render_chart: ChartRenderer) -> None:
    def render(greeting: str) -> Rendered:
        files = {"app.toml": f'greeting = "{greeting}"\n'}
        return render_chart(CHART, {"config": {"files": files}}, release=RELEASE)

    one, two = render("one"), render("two")
    assert one.get("ConfigMap", FULL)["data"] == {"app.toml": 'greeting = "one"\n'}
    annotations = [
        out.get("Deployment", FULL)["spec"]["template"]["metadata"]["annotations"]
        for out in (one, two)
    ]
    assert annotations[0]["checksum/config"] != annotations[1]["checksum/config"]
    app = _app(one)
    assert {"name": "config", "mountPath": "/etc/app", "readOnly": True} in app["volumeMounts"]
    assert _env(app)["APP_CONFIG"] == "/etc/app/app.toml"


def test_default_config_is_rendered_with_tpl(store: Rendered) -> None:
    assert store.get("ConfigMap", FULL)["data"]["app.toml"].endswith('"Hello from web"\n')


def test_writable_config_is_copied_into_an_empty_dir(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, {"config": {"writable": True}}, release=RELEASE)
    pod = out.get("Deployment", FULL)["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["config-copy"]
    assert {"name": "config-rw", "mountPath": "/etc/app"} in _app(out)["volumeMounts"]


def test_helm_test_expects_a_growing_counter(store: Rendered, render_chart: ChartRenderer) -> None:
    pod = store.get("Pod", f"{FULL}-test")
    env = _env(pod["spec"]["containers"][0])
    assert env["APP_URL"] == f"http://{FULL}:80/"
    assert env["STRICT"] == "1"
    lax = render_chart(CHART, {"session": {"mode": "none"}, "workload": {"replicas": 3}})
    assert _env(lax.get("Pod")["spec"]["containers"][0])["STRICT"] == "0"


def test_store_password_is_stable_offline(store: Rendered, render_chart: ChartRenderer) -> None:
    again = render_chart(CHART, release=RELEASE)
    secret = store.get("Secret", f"{FULL}-session-store")
    assert secret == again.get("Secret", f"{FULL}-session-store")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert store.text == again.text


@pytest.mark.parametrize(("grace", "drain"), [(30, 5), (6, 3), (1, None)])
def test_a_stopping_app_pod_keeps_serving_while_it_leaves_the_service(
    render_chart: ChartRenderer, grace: int, drain: int | None
) -> None:
    values = {"workload": {"terminationGracePeriodSeconds": grace}}
    out = render_chart(CHART, values, release=RELEASE)
    pod = out.get("Deployment", FULL)["spec"]["template"]["spec"]
    hook = _app(out).get("lifecycle", {}).get("preStop")
    if drain is None:  # no time to spare: the app stops at once
        assert hook is None
    else:
        # at most half the grace period: the app still has the rest to finish its requests
        assert hook == {"sleep": {"seconds": drain}}
        assert drain <= pod["terminationGracePeriodSeconds"] / 2


def test_a_rolling_update_writes_out_what_a_switch_to_recreate_drops(
    store: Rendered, render_chart: ChartRenderer
) -> None:
    # Helm 4 applies server-side: a rollingUpdate the API server defaulted would stay and
    # the switch to Recreate would be refused; one the release wrote is removed with it
    assert store.get("Deployment", FULL)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    own = {
        "workload": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}
    }
    out = render_chart(CHART, own, release=RELEASE)
    assert out.get("Deployment", FULL)["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1}
    recreate = {"workload": {"updateStrategy": {"type": "Recreate"}}}
    out = render_chart(CHART, recreate, release=RELEASE)
    assert out.get("Deployment", FULL)["spec"]["strategy"] == {"type": "Recreate"}


def test_extra_env_replaces_a_variable_the_chart_sets(render_chart: ChartRenderer) -> None:
    # two entries of one name: Helm 4 refuses the install, Kubernetes takes the last
    extra = [
        {"name": "APP_CONFIG", "value": "/srv/app.toml"},
        {"name": "EXTRA", "value": "1"},
        {"name": "EXTRA", "value": "2"},
    ]
    before = [e["name"] for e in _app(render_chart(CHART, release=RELEASE))["env"]]
    out = render_chart(CHART, {"workload": {"extraEnv": extra}}, release=RELEASE)
    # replaced where it was, the new one added once, at the end
    assert [e["name"] for e in _app(out)["env"]] == [*before, "EXTRA"]
    assert _env(_app(out))["APP_CONFIG"] == "/srv/app.toml" and _env(_app(out))["EXTRA"] == "2"
