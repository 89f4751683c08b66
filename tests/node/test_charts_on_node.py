"""The charts on a node that runs their pods: their state survives pod loss.

Each chart is installed once per class (``helm upgrade --install`` with the image
overrides of ``node_target`` only, no chart change), in a namespace of its own that
enforces Pod Security ``restricted``; its drills run in order, then the release and the
namespace (with the claims the release made) go. All installs start together at the
first drill (``installs``), and the ci set's ``chartmatrix install`` runs beside them:
pods start while other charts' drills run, which keeps the suite within its budget.

Traffic is real: SQL and HTTP clients run in the charts' own pods or in a client pod of
the chart's own image (``kubectl exec``), reaching Services through their VIPs
(kube-proxy); the gRPC client of examples/grpc-echo also runs on the host, against the
pod addresses behind the headless Service as the cluster's CoreDNS gives them (our real
node only).

The same file runs on kind in the workflow (``DESTATE_NODE_KUBECONFIG``, chartnode.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.charts import stage
from chartmatrix.cluster.install_kube import PSA_LABELS
from chartnode import ROOT, Installs, NodeTarget, Release, claim_of, pod_ready, wait_until
from destate_tools.charts import consumer_charts

GRPC_ECHO = ROOT / "examples" / "grpc-echo"
REDIS_PASSWORD = "node-redis-pw"
MYSQL_VALUES: dict[str, Any] = {
    "flavor": "mariadb",
    "workload": {"replicas": 3},
    "persistence": {"size": "1Gi", "retention": {"whenScaled": "Retain"}},
    "auth": {"rootPassword": "node-root-pw", "replicationPassword": "node-repl-pw"},
}


@pytest.fixture(scope="session")
def node_charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every consumer chart with the library vendored, staged once per session."""
    base = tmp_path_factory.mktemp("node-charts")
    return {name: stage(ROOT / "charts" / name, base / name) for name in consumer_charts(ROOT)}


# each drill class's release (its fixture's name -> chart, release name, values)
RELEASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mysql": ("mysql", "db", MYSQL_VALUES),
    "web_store": (
        "web-session",
        "web",
        {"session": {"mode": "store", "store": {"embedded": True}}, "workload": {"replicas": 2}},
    ),
    "web_sticky": (
        "web-session",
        "web",
        {"session": {"mode": "sticky"}, "workload": {"replicas": 3}},
    ),
    "grpc_envoy": (
        "grpc",
        "rpc",
        {"connection": {"mode": "envoy"}, "workload": {"replicas": 3}, "proxy": {"replicas": 1}},
    ),
    "grpc_client_mode": (
        "grpc",
        "rpc",
        {"connection": {"mode": "client"}, "workload": {"replicas": 3}},
    ),
    "redis": (
        "redis",
        "kv",
        {
            "workload": {"replicas": 3},
            "persistence": {"size": "1Gi"},
            "auth": {"password": REDIS_PASSWORD},
        },
    ),
}


@pytest.fixture(scope="module")
def installs(
    request: pytest.FixtureRequest, node_target: NodeTarget, node_charts: dict[str, Path]
) -> Iterator[Installs]:
    """The releases of the selected drill classes, installed side by side (and the ci
    set's ``chartmatrix install`` runs beside them, when its test is selected)."""
    items = [
        item for item in request.session.items if getattr(item, "module", None) is request.module
    ]
    used = {name for item in items for name in getattr(item, "fixturenames", ())}
    if "ci_set" in used:
        request.getfixturevalue("ci_set")
    installs = Installs(node_target)
    try:
        for key in [key for key in RELEASES if key in used]:
            chart, name, values = RELEASES[key]
            installs.start(key, node_charts[chart], name, values)
        yield installs
    finally:
        installs.close()


def _containers_ready(pod: dict[str, Any]) -> bool:
    statuses = pod["status"].get("containerStatuses") or []
    return bool(statuses) and all(s["ready"] for s in statuses)


def _assert_restricted_and_running(release: Release, pods: list[dict[str, Any]]) -> None:
    ns = release.target.kube.get(f"/api/v1/namespaces/{release.namespace}")
    labels = ns["metadata"]["labels"]
    assert {k: labels.get(k) for k in PSA_LABELS} == PSA_LABELS
    for pod in pods:
        assert pod_ready(pod) and _containers_ready(pod), pod["metadata"]["name"]
        assert pod["status"]["containerStatuses"][0]["containerID"], "no container runs"


# --- web-session ------------------------------------------------------------------------
WEB = "web-web-session"
VISIT = """
import json, sys, time, urllib.error, urllib.request
url, sid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
answers = []

def get(request, tries=20):
    # refused: nothing reached an app (kube-proxy may lag the endpoints by a moment)
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.URLError as error:
        if tries == 1 or not isinstance(error.reason, ConnectionRefusedError):
            raise
    time.sleep(0.5)
    return get(request, tries - 1)

for _ in range(n):
    request = urllib.request.Request(url, headers={"Cookie": f"sid={sid}"} if sid else {})
    with get(request) as reply:
        cookie = reply.headers.get("Set-Cookie") or ""
        if cookie.startswith("sid="):
            sid = cookie.split(";")[0][4:]
        answers.append(json.load(reply))
print(json.dumps({"sid": sid, "answers": answers}))
"""


def _visit(web: Release, client: str, sid: str, requests: int) -> tuple[str, list[int], set[str]]:
    """``requests`` GETs through the app's Service, each a new connection, as visitor
    ``sid`` (empty: a new visitor); (sid, counts, instances that answered)."""
    url = f"http://{WEB}/"
    out = web.target.exec(web.namespace, client, ["python", "-c", VISIT, url, sid, str(requests)])
    result = json.loads(out)
    answers = result["answers"]
    return result["sid"], [a["count"] for a in answers], {a["instance"] for a in answers}


def _app_client(web: Release) -> str:
    app = web.workload("Deployment", WEB)["spec"]["template"]["spec"]["containers"][0]
    return web.client_pod(
        "visitor", app["image"], app.get("imagePullPolicy", "IfNotPresent"), 10001
    )


@pytest.fixture(scope="class")
def web_store(installs: Installs) -> Iterator[Release]:
    yield from installs.take("web_store")


class TestWebSessionStore:
    def test_counter_continues_across_pods_and_their_deletion(self, web_store: Release) -> None:
        _assert_restricted_and_running(web_store, web_store.pods())
        web_store.wait_served(WEB)
        client = _app_client(web_store)
        sid, counts, instances = _visit(web_store, client, "", 16)
        assert counts == list(range(1, 17))
        assert len(instances) == 2, f"16 new connections all reached {instances}"
        app_pods = [p["metadata"]["name"] for p in web_store.pods_of("Deployment", WEB)]
        store_pod = f"{WEB}-redis-0"
        assert web_store.pod(store_pod) is not None
        last = 16
        for pod in [*app_pods, store_pod]:
            old_uid = web_store.delete_pod(pod)
            if pod == store_pod:
                web_store.wait_replaced(pod, old_uid)
            web_store.wait_ready()
            web_store.wait_served(WEB)
            sid_again, counts, _ = _visit(web_store, client, sid, 3)
            assert sid_again == sid
            assert counts == [last + 1, last + 2, last + 3], f"after deleting {pod}: {counts}"
            last += 3
        now = {p["metadata"]["name"] for p in web_store.pods_of("Deployment", WEB)}
        assert not now & set(app_pods), "every app pod was replaced"

    def test_helm_test_passes(self, web_store: Release) -> None:
        out = web_store.helm_test()
        assert "Phase:          Succeeded" in out, out


@pytest.fixture(scope="class")
def web_sticky(installs: Installs) -> Iterator[Release]:
    yield from installs.take("web_sticky")


class TestWebSessionSticky:
    def test_client_ip_affinity_keeps_one_client_on_one_pod(self, web_sticky: Release) -> None:
        service = web_sticky.service(WEB)
        assert service["spec"]["sessionAffinity"] == "ClientIP"
        web_sticky.wait_served(WEB)  # all 3 pods behind the VIP before the first request
        client = _app_client(web_sticky)
        # each request a new connection: without kube-proxy's affinity to the client's
        # address, 15 of them would spread over the 3 pods and the in-memory session
        # (session-app's memory backend in sticky mode) would start again at 1
        _sid, counts, instances = _visit(web_sticky, client, "", 15)
        assert len(instances) == 1, f"one client reached {instances}"
        assert counts == list(range(1, 16))
        pods = {p["metadata"]["name"] for p in web_sticky.pods_of("Deployment", WEB)}
        assert len(pods) == 3 and instances <= pods

    def test_helm_test_passes(self, web_sticky: Release) -> None:
        out = web_sticky.helm_test()
        assert "Phase:          Succeeded" in out, out


# --- grpc -----------------------------------------------------------------------------------
RPC = "rpc-grpc"
CALLS = """
import json, sys, time
sys.path.insert(0, "/app")
from client import channel, echo
target, seconds = sys.argv[1], float(sys.argv[2])
seen, times, failed = [], [], []
with channel(target, sys.argv[3]) as chan:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            seen.append(echo(chan, "drill").instance)
            times.append(time.time())
        except Exception as error:
            failed.append(str(error)[:200])
        if len(seen) == 1:
            print("calling", file=sys.stderr, flush=True)
        time.sleep(0.02)
print(json.dumps({"seen": seen, "times": times, "failed": failed}))
"""


def _grpc_client(rpc: Release) -> str:
    server = rpc.workload("Deployment", RPC)["spec"]["template"]["spec"]["containers"][0]
    pull = server.get("imagePullPolicy", "IfNotPresent")
    return rpc.client_pod("caller", server["image"], pull, 10001)


def _calls(
    rpc: Release, client: str, target: str, seconds: float, lb: str
) -> subprocess.Popen[str]:
    """Calls over ONE channel for ``seconds``, from the client pod (started, not awaited)."""
    argv = rpc.target.kubectl_argv("exec", "-n", rpc.namespace, client, "--", "python", "-c")
    argv += [CALLS, target, str(seconds), lb]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, f"client failed: {err.strip()}"
    return dict(json.loads(out))


def _server_pods(rpc: Release) -> set[str]:
    return {p["metadata"]["name"] for p in rpc.pods_of("Deployment", RPC) if pod_ready(p)}


@pytest.fixture(scope="class")
def grpc_envoy(installs: Installs) -> Iterator[Release]:
    yield from installs.take("grpc_envoy")


class TestGrpcEnvoy:
    def test_one_channel_through_envoy_spreads_over_three_servers(
        self, grpc_envoy: Release
    ) -> None:
        _assert_restricted_and_running(grpc_envoy, grpc_envoy.pods())
        servers = _server_pods(grpc_envoy)
        assert len(servers) == 3, servers
        client = _grpc_client(grpc_envoy)
        # Envoy's own health checks admit the servers a few seconds after they are Ready
        wait_until(
            lambda: (
                set(
                    _result(_calls(grpc_envoy, client, f"{RPC}-envoy:9000", 2, "pick_first"))[
                        "seen"
                    ]
                )
                == servers
            ),
            60,
            "Envoy to balance over the three servers",
        )
        result = _result(_calls(grpc_envoy, client, f"{RPC}-envoy:9000", 3, "pick_first"))
        assert not result["failed"], result["failed"][:3]
        assert set(result["seen"]) == servers, f"calls reached {set(result['seen'])}"

    def test_calls_keep_succeeding_while_a_server_pod_is_deleted(self, grpc_envoy: Release) -> None:
        client = _grpc_client_name(grpc_envoy)
        original = _server_pods(grpc_envoy)
        victim = sorted(original)[0]
        pod = grpc_envoy.pod(victim)
        assert pod is not None
        hook = pod["spec"]["containers"][0].get("lifecycle", {}).get("preStop", {})
        # the server is told to stop after its preStop sleep: the calls go on well beyond
        stops_after = hook.get("sleep", {}).get("seconds", 0)
        calls = _calls(grpc_envoy, client, f"{RPC}-envoy:9000", stops_after + 12, "pick_first")
        assert calls.stderr is not None
        started = calls.stderr.readline().strip()  # after the first call that succeeded
        assert started == "calling", f"the client did not start: {started}"
        time.sleep(1)
        deleted_at = time.time()
        grpc_envoy.delete_pod(victim)
        result = _result(calls)
        assert not result["failed"], f"{len(result['failed'])} failed: {result['failed'][:3]}"
        # calls went on through the victim's whole termination, its stop included
        after_deletion = [t for t in result["times"] if t > deleted_at]
        assert after_deletion, "no call after the deletion"
        assert after_deletion[-1] - deleted_at > stops_after + 5, result["times"][-3:]
        grpc_envoy.wait_ready()
        (replacement,) = _server_pods(grpc_envoy) - original
        # Envoy finds the replacement in DNS (dnsRefreshRate) and gives it calls too
        wait_until(
            lambda: (
                replacement
                in _result(_calls(grpc_envoy, client, f"{RPC}-envoy:9000", 2, "pick_first"))["seen"]
            ),
            60,
            f"calls to the replacement {replacement}",
        )

    def test_helm_test_passes(self, grpc_envoy: Release) -> None:
        out = grpc_envoy.helm_test()
        assert "Phase:          Succeeded" in out, out


def _grpc_client_name(rpc: Release) -> str:
    pod = rpc.pod("caller")
    return "caller" if pod is not None and pod_ready(pod) else _grpc_client(rpc)


@pytest.fixture(scope="class")
def grpc_client_mode(installs: Installs) -> Iterator[Release]:
    yield from installs.take("grpc_client_mode")


class TestGrpcClientMode:
    def test_client_balances_over_the_headless_service(self, grpc_client_mode: Release) -> None:
        rpc = grpc_client_mode
        servers = _server_pods(rpc)
        assert len(servers) == 3, servers
        name = f"{RPC}-headless.{rpc.namespace}.svc.cluster.local:50051"
        if rpc.target.host_routes and rpc.target.dns_server:
            # on the host: names from the cluster's CoreDNS on our bridge, calls to pod IPs
            target = f"dns://{rpc.target.dns_server}:53/{name}"
            argv = [sys.executable, str(GRPC_ECHO / "client.py"), target]
            argv += ["--lb", "round_robin", "--calls", "90", "--check-health"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            lines = [ln.split() for ln in done.stdout.splitlines()]
            assert ["health", "SERVING"] in lines
            counts = {ln[0]: int(ln[1]) for ln in lines if ln[0] != "health"}
        else:
            client = _grpc_client(rpc)
            result = _result(_calls(rpc, client, f"dns:///{name}", 3, "round_robin"))
            assert not result["failed"], result["failed"][:3]
            counts = {n: result["seen"].count(n) for n in set(result["seen"])}
        assert set(counts) == servers, counts
        # round robin: an equal share each, but for the first calls of a new channel,
        # which go round the servers connected so far (a busy node connects one late)
        share = sum(counts.values()) / len(counts)
        assert min(counts.values()) >= 0.8 * share, counts

    def test_helm_test_passes(self, grpc_client_mode: Release) -> None:
        out = grpc_client_mode.helm_test()
        assert "Phase:          Succeeded" in out, out


# --- redis ----------------------------------------------------------------------------------
KV = "kv-redis"


def _redis(kv: Release, pod: str, *command: str, host: str = "127.0.0.1") -> str:
    """redis-cli in ``pod`` (password from the environment, never on its command line)."""
    argv = ["env", f"REDISCLI_AUTH={REDIS_PASSWORD}", "redis-cli", "-h", host, *command]
    return kv.target.exec(kv.namespace, pod, argv, container="redis").strip()


def _link_up(kv: Release, pod: str) -> bool:
    try:
        info = _redis(kv, pod, "INFO", "replication")
    except AssertionError:
        return False
    return "role:slave" in info and "master_link_status:up" in info


def _has(kv: Release, pod: str, key: str, value: str) -> bool:
    try:
        return _redis(kv, pod, "GET", key) == value
    except AssertionError:
        return False


@pytest.fixture(scope="class")
def redis(installs: Installs) -> Iterator[Release]:
    yield from installs.take("redis")


class TestRedis:
    def test_replicas_replicate_and_data_survives_deleting_the_primary(
        self, redis: Release
    ) -> None:
        pods = redis.pods_of("StatefulSet", KV)
        assert sorted(p["metadata"]["name"] for p in pods) == [f"{KV}-{i}" for i in range(3)]
        _assert_restricted_and_running(redis, pods)
        # through the primary Service's VIP, from a replica's pod
        assert _redis(redis, f"{KV}-1", "SET", "drill", "one", host=f"{KV}-primary") == "OK"
        for replica in (f"{KV}-1", f"{KV}-2"):
            wait_until(lambda r=replica: _has(redis, r, "drill", "one"), 60, f"drill on {replica}")
            assert _link_up(redis, replica)
        primary = redis.pod(f"{KV}-0")
        assert primary is not None
        claim = claim_of(primary)
        claim_uid = redis.claims()[claim]["metadata"]["uid"]
        after = redis.wait_replaced(f"{KV}-0", redis.delete_pod(f"{KV}-0"))
        assert claim_of(after) == claim and redis.claims()[claim]["metadata"]["uid"] == claim_uid
        assert after["spec"]["nodeName"] == primary["spec"]["nodeName"]
        # its append-only file on the claim brought the key back
        assert _redis(redis, f"{KV}-0", "GET", "drill") == "one"
        redis.wait_served(f"{KV}-primary")
        assert _redis(redis, f"{KV}-2", "SET", "after", "two", host=f"{KV}-primary") == "OK"
        for replica in (f"{KV}-1", f"{KV}-2"):
            wait_until(lambda r=replica: _has(redis, r, "after", "two"), 90, f"after on {replica}")
            wait_until(lambda r=replica: _link_up(redis, r), 60, f"{replica} linked again")

    def test_helm_test_passes(self, redis: Release) -> None:
        out = redis.helm_test()
        assert "Phase:          Succeeded" in out, out


# --- mysql (flavor mariadb): last, so its slow start overlaps the other charts' drills
DB = "db-mysql"


def _sql(db: Release, pod: str, statement: str, host: str = "127.0.0.1", form: str = "-NB") -> str:
    """A statement through the mariadb client in ``pod``'s database container, as root;
    ``form``: the client's output flags (-NB: values only, tab-separated; -E: NAME: value)."""
    script = 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mariadb -h "$1" -uroot "$2" -e "$3"'
    argv = ["sh", "-c", script, "sql", host, form, statement]
    # "Unknown server host 'h' (-3)": EAI_AGAIN, the pod's resolver had no answer in time
    # (seen once under load); a name that does not exist (-2) fails at once
    retry = "' (-3)" if host != "127.0.0.1" else ""
    return db.target.exec(db.namespace, pod, argv, container="mysql", retry_if=retry).strip()


def _try_sql(db: Release, pod: str, statement: str, form: str = "-NB") -> str | None:
    try:
        return _sql(db, pod, statement, form=form)
    except AssertionError:
        return None


def _read_service_answers(db: Release, client: str, connections: int = 24) -> set[str]:
    """``hostname=value`` of row 1, one line per new connection through the read Service."""
    script = (
        'for i in $(seq "$2"); do MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb -h "$1" -uroot '
        "-N -B -e 'SELECT CONCAT(@@hostname, \"=\", v) FROM drill.t WHERE id = 1' "
        "2>/dev/null; done; true"
    )
    argv = ["sh", "-c", script, "read", f"{DB}-read", str(connections)]
    out = db.target.exec(db.namespace, client, argv, container="mysql")
    return set(out.split())


def _replication_running(db: Release, pod: str) -> bool:
    status = _try_sql(db, pod, "SHOW SLAVE STATUS", form="-E") or ""
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in status.splitlines())
    )
    return fields.get("Slave_IO_Running") == "Yes" and fields.get("Slave_SQL_Running") == "Yes"


def _wait_row(db: Release, pod: str, row_id: int, value: str) -> None:
    wait_until(
        lambda: _try_sql(db, pod, f"SELECT v FROM drill.t WHERE id = {row_id}") == value,
        180,
        f"row {row_id}={value} on {pod}",
    )


@pytest.fixture(scope="class")
def mysql(installs: Installs) -> Iterator[Release]:
    yield from installs.take("mysql")


class TestMysqlMariadb:
    def test_three_pods_ready_in_a_restricted_namespace(self, mysql: Release) -> None:
        pods = mysql.pods_of("StatefulSet", DB)
        assert sorted(p["metadata"]["name"] for p in pods) == [f"{DB}-{i}" for i in range(3)]
        _assert_restricted_and_running(mysql, pods)

    def test_row_written_through_primary_is_read_on_both_replicas(self, mysql: Release) -> None:
        # from a replica's pod: the primary Service's VIP leads to pod 0
        _sql(
            mysql,
            f"{DB}-1",
            "CREATE DATABASE IF NOT EXISTS drill; "
            "CREATE TABLE drill.t (id INT PRIMARY KEY, v VARCHAR(64)); "
            "INSERT INTO drill.t VALUES (1, 'first')",
            host=f"{DB}-primary",
        )
        assert _sql(mysql, f"{DB}-0", "SELECT v FROM drill.t WHERE id = 1") == "first"
        want = {f"{DB}-1=first", f"{DB}-2=first"}
        seen: set[str] = set()

        def both() -> bool:
            seen.update(_read_service_answers(mysql, f"{DB}-2"))
            return want <= seen

        wait_until(both, 180, f"both replicas to answer through {DB}-read (seen {seen})")
        # the read Service spreads over every ready pod (destate.topology.readService):
        # each answer is the row; the replicas among them are read-only
        assert seen <= {f"{DB}-{i}=first" for i in range(3)}, seen
        assert _sql(mysql, f"{DB}-1", "SELECT @@read_only") == "1"
        assert _sql(mysql, f"{DB}-2", "SELECT @@read_only") == "1"

    def test_helm_test_passes(self, mysql: Release) -> None:
        out = mysql.helm_test()
        assert "Phase:          Succeeded" in out, out

    def test_pod0_returns_on_its_node_with_its_claim_and_rows(self, mysql: Release) -> None:
        before = mysql.pod(f"{DB}-0")
        assert before is not None
        claim = claim_of(before)
        claim_uid = mysql.claims()[claim]["metadata"]["uid"]
        grace = before["spec"]["terminationGracePeriodSeconds"]
        started = time.monotonic()
        old_uid = mysql.delete_pod(f"{DB}-0")
        wait_until(
            lambda: (mysql.pod(f"{DB}-0") or {}).get("metadata", {}).get("uid") != old_uid,
            grace + 60,
            f"{DB}-0 to stop",
        )
        # every container stops on SIGTERM: none waits out the grace period to be killed
        stopped_after = time.monotonic() - started
        assert stopped_after < grace, f"{DB}-0 took {stopped_after:.0f}s to stop (grace {grace}s)"
        after = mysql.wait_replaced(f"{DB}-0", old_uid)
        assert after["spec"]["nodeName"] == before["spec"]["nodeName"]
        assert claim_of(after) == claim
        assert mysql.claims()[claim]["metadata"]["uid"] == claim_uid
        assert _sql(mysql, f"{DB}-0", "SELECT v FROM drill.t WHERE id = 1") == "first"
        mysql.wait_served(f"{DB}-primary")
        # the replicas reconnect to the new pod 0 and take its new writes
        _sql(mysql, f"{DB}-1", "INSERT INTO drill.t VALUES (2, 'after-pod0')", host=f"{DB}-primary")
        for replica in (f"{DB}-1", f"{DB}-2"):
            _wait_row(mysql, replica, 2, "after-pod0")
            wait_until(
                lambda r=replica: _replication_running(mysql, r), 120, f"{replica} replicating"
            )

    def test_scale_3_1_3_keeps_and_reuses_the_claims(self, mysql: Release) -> None:
        claims = {name: c["metadata"]["uid"] for name, c in mysql.claims().items()}
        assert sorted(claims) == [f"data-{DB}-{i}" for i in range(3)]
        mysql.scale("StatefulSet", DB, 1)
        kept = {name: c["metadata"]["uid"] for name, c in mysql.claims().items()}
        assert kept == claims  # whenScaled: Retain
        _sql(mysql, f"{DB}-0", "INSERT INTO drill.t VALUES (3, 'while-one')")
        mysql.scale("StatefulSet", DB, 3)
        for i in (1, 2):
            pod = mysql.pod(f"{DB}-{i}")
            assert pod is not None and claim_of(pod) == f"data-{DB}-{i}"
            # the old rows were on the claim; the one written meanwhile is caught up
            assert _sql(mysql, f"{DB}-{i}", "SELECT v FROM drill.t WHERE id = 2") == "after-pod0"
            _wait_row(mysql, f"{DB}-{i}", 3, "while-one")
        again = {name: c["metadata"]["uid"] for name, c in mysql.claims().items()}
        assert again == claims

    def test_config_change_by_upgrade_rolls_the_pods_and_is_read_back(self, mysql: Release) -> None:
        old = {p["metadata"]["name"]: p["metadata"]["uid"] for p in mysql.pods()}
        config = {"config": {"files": {"tuning.cnf": "[mysqld]\nmax_connections = 222\n"}}}
        mysql.upgrade({**MYSQL_VALUES, **config})
        new = {p["metadata"]["name"]: p["metadata"]["uid"] for p in mysql.pods()}
        rolled = [name for name in old if name.startswith(DB) and new.get(name) != old[name]]
        assert sorted(rolled) == [f"{DB}-{i}" for i in range(3)], (old, new)
        for i in range(3):
            assert _sql(mysql, f"{DB}-{i}", "SELECT @@max_connections") == "222"
        assert _sql(mysql, f"{DB}-2", "SELECT v FROM drill.t WHERE id = 3") == "while-one"


# --- chartmatrix install: every chart's ci set ------------------------------------------------
# with the local images, what has no stand-in cannot run: Oracle MySQL (flavor mysql, the
# mysql chart's default) - tools/images/README.md
LOCAL_IMAGE_CASES = {"mysql": ["mariadb"]}


def _ci_cases(chart: str) -> list[str]:
    return [
        p.name.removesuffix("-values.yaml")
        for p in (ROOT / "charts" / chart / "ci").glob("*-values.yaml")
    ]


@dataclass
class CiRun:
    """One background ``chartmatrix install`` of a chart's ci set."""

    chart: str
    cases: list[str]
    process: subprocess.Popen[bytes]
    log: Path
    junit: Path


@pytest.fixture(scope="module")
def ci_set(
    node_target: NodeTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[CiRun]]:
    """``chartmatrix install`` of each chart's ci set, one process per chart, started
    with the drills' installs (``installs``) so that they run side by side."""
    base = tmp_path_factory.mktemp("ci-set")
    runs = []
    for chart in consumer_charts(ROOT):
        cases = _ci_cases(chart)
        argv = [sys.executable, "-m", "chartmatrix.cli", "install", str(ROOT / "charts" / chart)]
        argv += ["--kubeconfig", str(node_target.kubeconfig), "--timeout", "300"]
        argv += ["--kube-context", node_target.context] if node_target.context else []
        argv += node_target.image_args.get(chart, [])
        if node_target.image_args and chart in LOCAL_IMAGE_CASES:
            cases = LOCAL_IMAGE_CASES[chart]
            argv += [arg for case in cases for arg in ("--case", case)]
        junit, log = base / f"{chart}.xml", base / f"{chart}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([*argv, "--junit", str(junit)], stdout=out, stderr=out)
        runs.append(CiRun(chart, sorted(cases), process, log, junit))
    yield runs
    for run in runs:  # the test did not wait for them (it failed or was not reached)
        if run.process.poll() is None:
            run.process.terminate()
            run.process.wait(timeout=120)


def test_chartmatrix_install_runs_the_ci_set(ci_set: list[CiRun]) -> None:
    """Each chart's ci set through ``chartmatrix install`` with the image overrides given
    as --set-string: install, ready, helm test, uninstall, leftovers; all pass."""
    for run in ci_set:
        run.process.wait(timeout=900)
        out = run.log.read_text(errors="replace")
        assert run.process.returncode == 0, f"chartmatrix install {run.chart}:\n{out[-4000:]}"
        report = ET.parse(run.junit).getroot()
        names = sorted(case.get("name", "") for case in report.iter("testcase"))
        assert names == run.cases, f"{run.chart}: ran {names}, its ci set is {run.cases}"
        assert not list(report.iter("failure"))
        print(f"chartmatrix install {run.chart}: {len(names)} case(s) passed")
