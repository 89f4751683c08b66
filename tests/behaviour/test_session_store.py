"""Session state: a visitor's session survives a change of instance when it lives in Redis.

charts/web-session is rendered; two examples/session-app instances run with the env and the
config files of the rendered Deployment, and for session.mode=store a real redis-server runs
with the rendered Redis command and redis.conf, after the rendered init script redis-auth has
written its password file. Only addresses and ports are patched in.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from .pods import LocalPod
from .procs import (
    Fatal,
    Proc,
    Processes,
    free_port,
    loopback_block,
    port_open,
    require_binary,
    wait_until,
)
from .rendered import REPO, Manifest, files_of, find, render

APP = REPO / "examples" / "session-app" / "app.py"


@dataclass
class Visitor:
    """A browser: keeps the session cookie and sends it to whichever instance it reaches."""

    cookie: str = ""
    answers: list[dict[str, object]] = field(default_factory=list)

    def visit(self, base: str) -> dict[str, object]:
        request = urllib.request.Request(base + "/")
        if self.cookie:
            request.add_header("Cookie", self.cookie)
        with urllib.request.urlopen(request, timeout=5) as reply:
            body: dict[str, object] = json.loads(reply.read())
            set_cookie = reply.headers.get("Set-Cookie", "")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        self.answers.append(body)
        return body


def _redis_url(url: str, host: str, port: int) -> str:
    """The rendered store URL with only its address replaced."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Redis:
    """The rendered embedded Redis as one local redis-server (its claim is a directory)."""

    procs: Processes
    argv: list[str]
    env: dict[str, str]
    host: str
    port: int
    pod: LocalPod | None = None
    proc: Proc | None = None

    def start(self) -> None:
        self.proc = self.procs.start("redis", self.argv, env=self.env)
        wait_until(
            lambda: self.proc is not None and _alive(self.proc) and port_open(self.host, self.port),
            20,
            "redis-server up",
        )

    def stop(self) -> None:
        if self.proc:
            self.procs.stop(self.proc)


def _redis_pod(docs: list[Manifest], root: Path) -> LocalPod:
    statefulset = find(docs, "StatefulSet", lambda d: "redis" in d["metadata"]["name"])
    pod = LocalPod(docs, statefulset, 0, root / "redis")
    pod.lay_out()
    return pod


def _redis_auth(pod: LocalPod) -> subprocess.CompletedProcess[str]:
    """The rendered init container redis-auth, run as the kubelet would (its env only)."""
    init = pod.container("redis-auth")
    env = pod.env(init, {"PATH": "/usr/bin:/bin"})
    return subprocess.run(
        pod.command(init, env), env=env, capture_output=True, text=True, timeout=30
    )


def _redis(docs: list[Manifest], procs: Processes, root: Path, host: str) -> Redis:
    redis_server = require_binary("redis-server", "apt-get install redis-server")
    pod = _redis_pod(docs, root)
    done = _redis_auth(pod)  # writes the requirepass file redis.conf includes
    assert done.returncode == 0, f"redis-auth failed:\n{done.stderr}"
    container = pod.container("redis")
    env = pod.env(container)
    argv = pod.command(container, env)
    assert argv[0] == "redis-server", f"unexpected Redis command {argv}"
    port = free_port(host)
    # The rendered redis.conf with its in-pod paths (`dir /data`) pointing at the local
    # volumes, then addresses only: this loopback address and a free port.
    conf = Path(argv[1])
    local_conf = root / "redis.conf"
    local_conf.write_text(pod.translate(container, conf.read_text()))
    patch = ["--port", str(port), "--bind", host]
    argv = [redis_server, str(local_conf), *argv[2:], *patch]
    return Redis(procs, argv, env, host, port, pod=pod)


def _alive(proc: Proc) -> bool:
    if not proc.running():
        raise Fatal(f"{proc.name} exited:\n{proc.tail()}")
    return True


@dataclass
class WebApp:
    docs: list[Manifest]
    procs: Processes
    root: Path
    redis: Redis | None = None
    instances: dict[str, Proc] = field(default_factory=dict)

    def start(self, ordinal: int, host: str) -> str:
        """Start instance `ordinal` (a pod of the rendered Deployment); returns its base URL."""
        deployment = find(self.docs, "Deployment")
        pod = LocalPod(self.docs, deployment, ordinal, self.root / "pods")
        pod.lay_out()
        container = pod.container("app")
        port = free_port(host)
        overrides = {"APP_ADDRESS": host, "APP_PORT": str(port), "PATH": "/usr/bin:/bin"}
        env = pod.env(container, overrides)
        if self.redis and "SESSION_STORE_URL" in env:
            url = env["SESSION_STORE_URL"]
            env["SESSION_STORE_URL"] = _redis_url(url, self.redis.host, self.redis.port)
        proc = self.procs.start(pod.name, [sys.executable, str(APP)], env=env)
        self.instances[pod.name] = proc
        base = f"http://{host}:{port}"
        wait_until(lambda: _alive(proc) and _healthy(base), 20, f"{pod.name} up")
        return base


def _healthy(base: str) -> bool:
    with urllib.request.urlopen(base + "/healthz", timeout=2) as reply:
        return reply.status == 200


@pytest.fixture
def store_app(procs: Processes, tmp_path: Path) -> Iterator[tuple[WebApp, list[str]]]:
    docs = render("web-session", tmp_path, {"session": {"mode": "store"}})
    hosts = loopback_block(3)
    redis = _redis(docs, procs, tmp_path, hosts[2])
    redis.start()
    app = WebApp(docs, procs, tmp_path, redis=redis)
    yield app, hosts


def test_store_mode_keeps_the_counter_across_instances(
    store_app: tuple[WebApp, list[str]],
) -> None:
    app, hosts = store_app
    a = app.start(0, hosts[0])
    b = app.start(1, hosts[1])
    visitor = Visitor()
    counts = [visitor.visit(base)["count"] for base in (a, b, a, b)]
    served = [answer["instance"] for answer in visitor.answers]
    assert served == ["demo-web-session-0", "demo-web-session-1"] * 2
    assert counts == [1, 2, 3, 4]
    assert {answer["backend"] for answer in visitor.answers} == {"redis"}
    # config state too: the greeting comes from the rendered app.toml
    assert visitor.answers[0]["greeting"] == "Hello from demo"

    # instance 0 goes away and comes back (a new pod): the session is still there
    app.procs.stop(app.instances["demo-web-session-0"])
    a = app.start(0, hosts[0])
    assert visitor.visit(a)["count"] == 5

    # the store itself restarts on its claim (append-only file): sessions survive that too
    assert app.redis is not None
    app.redis.stop()
    app.redis.start()
    assert visitor.visit(b)["count"] == 6


def test_memory_sessions_are_lost_when_the_instance_changes(
    procs: Processes, tmp_path: Path
) -> None:
    docs = render("web-session", tmp_path, {"session": {"mode": "none"}})
    env_names = {
        e["name"]
        for e in find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0].get("env")
        or []
    }
    assert "SESSION_STORE_URL" not in env_names, "mode none must not configure a store"
    app = WebApp(docs, procs, tmp_path)
    hosts = loopback_block(2)
    a = app.start(0, hosts[0])
    b = app.start(1, hosts[1])
    visitor = Visitor()
    counts = [visitor.visit(base)["count"] for base in (a, b, a, b)]
    assert {answer["backend"] for answer in visitor.answers} == {"memory"}
    assert counts == [1, 1, 2, 2], "each instance counted its own session: the counter is lost"
    stranger = Visitor(cookie='sid="unterminated; x')  # a malformed cookie is a new visitor
    assert stranger.visit(a)["count"] == 1
    assert stranger.cookie.startswith("sid=") and "unterminated" not in stranger.cookie


def _redis_call(host: str, port: int, *words: str, password: str | None = None) -> str:
    """One RESP command on a fresh connection (AUTH first when a password is given): the
    first reply line."""

    def command(*parts: str) -> bytes:
        out = f"*{len(parts)}\r\n"
        for part in parts:
            out += f"${len(part.encode())}\r\n{part}\r\n"
        return out.encode()

    with socket.create_connection((host, port), timeout=5) as sock:
        reader = sock.makefile("rb")
        if password is not None:
            sock.sendall(command("AUTH", password))
            assert reader.readline().strip() == b"+OK"
        sock.sendall(command(*words))
        return reader.readline().decode().strip()


def test_redis_password_is_in_a_config_file_not_on_command_lines(
    procs: Processes, tmp_path: Path
) -> None:
    """Issue 11 item 2: redis-server gets its password from the file the init container
    writes (never `--requirepass`), the probe's redis-cli from REDISCLI_AUTH (never `-a`),
    and the init container is given nothing but the password file."""
    docs = render("web-session", tmp_path, {"session": {"mode": "store"}})
    host = loopback_block(1)[0]
    redis = _redis(docs, procs, tmp_path, host)
    assert redis.pod is not None
    secret = find(docs, "Secret", lambda d: d["metadata"]["name"].endswith("-session-store"))
    password = files_of(secret)["password"].decode()
    assert len(password) == 24

    # the init container: no env at all, only the Secret's password key mounted
    init = redis.pod.container("redis-auth")
    assert "env" not in init and "envFrom" not in init
    auth_conf = redis.pod.volumes["redis-auth"] / "auth.conf"
    assert auth_conf.read_text() == f'requirepass "{password}"\n'
    assert auth_conf.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in redis.pod.volumes["redis-password"].iterdir()) == ["password"]

    redis.start()
    assert redis.proc is not None
    cmdline = Path(f"/proc/{redis.proc.popen.pid}/cmdline").read_bytes().split(b"\0")
    assert password.encode() not in b" ".join(cmdline)
    assert b"--requirepass" not in cmdline
    # the password works, and nothing else does
    assert _redis_call(host, redis.port, "PING").startswith("-NOAUTH")
    assert _redis_call(host, redis.port, "PING", password=password) == "+PONG"

    # the rendered readiness probe, addresses patched in: REDISCLI_AUTH authenticates it
    container = redis.pod.container("redis")
    probe = container["readinessProbe"]["exec"]["command"]
    assert password not in " ".join(probe) and " -a " not in probe[2]
    require_binary("redis-cli", "apt-get install redis-tools")
    script = probe[2].replace("redis-cli", f"redis-cli -h {host} -p {redis.port}", 1)
    env = {**redis.pod.env(container), "PATH": "/usr/bin:/bin"}
    assert env["REDISCLI_AUTH"] == password
    assert subprocess.run([*probe[:2], script], env=env, timeout=30).returncode == 0
    no_auth = {k: v for k, v in env.items() if k != "REDISCLI_AUTH"}
    assert subprocess.run([*probe[:2], script], env=no_auth, timeout=30).returncode != 0


def test_redis_auth_refuses_a_password_redis_conf_cannot_hold(tmp_path: Path) -> None:
    """A password from an existing Secret with a quote or a newline would end the quoted
    requirepass string: the init container refuses it and writes nothing."""
    docs = render("web-session", tmp_path, {"session": {"mode": "store"}})
    pod = _redis_pod(docs, tmp_path)
    (pod.volumes["redis-password"] / "password").write_text('abc" \nrename-command CONFIG ""')
    done = _redis_auth(pod)
    assert done.returncode == 1
    assert "redis-auth: key password of the session store Secret must be" in done.stderr
    assert not (pod.volumes["redis-auth"] / "auth.conf").exists()
