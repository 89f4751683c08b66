"""session-app: a small web app that counts each visitor's requests in its session.

Every `GET /` reads the visitor's session (cookie `sid`), adds one to its counter and answers
JSON `{"count": N, "instance": NAME, "greeting": TEXT, "backend": "redis"|"memory"}`.
`GET /healthz` answers `ok` (and checks the store).

Env:
  APP_ADDRESS          listen address (default 0.0.0.0)
  APP_PORT             listen port (default 8080)
  APP_CONFIG           TOML config file; its `greeting` is shown on every page
                       (default /etc/app/app.toml; a missing file means no greeting)
  SESSION_BACKEND      redis | memory (default: redis when SESSION_STORE_URL is set, else memory)
  SESSION_STORE_URL    redis://[:password@]host:port/db of the session store
  SESSION_TTL_SECONDS  how long an idle session lives in the store (default 3600)
  INSTANCE_NAME        name put in every answer (default POD_NAME, else the host name)

With `memory` each instance keeps its own sessions: a visitor who lands on another
instance starts again at 1. With `redis` any instance continues the visitor's session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import tomllib
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

log = logging.getLogger("session-app")
COOKIE = "sid"


class SessionStore(Protocol):
    name: str

    def increment(self, sid: str) -> int: ...

    def healthy(self) -> bool: ...


class MemoryStore:
    """Sessions in this process only: lost when the visitor reaches another instance."""

    name = "memory"

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def increment(self, sid: str) -> int:
        with self._lock:
            self._counts[sid] = self._counts.get(sid, 0) + 1
            return self._counts[sid]

    def healthy(self) -> bool:
        return True


class RedisStore:
    """Sessions in Redis (hash `session:<sid>`), shared by every instance."""

    name = "redis"

    def __init__(self, url: str, ttl: int) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._ttl = ttl

    def increment(self, sid: str) -> int:
        key = f"session:{sid}"
        pipe = self._redis.pipeline()
        pipe.hincrby(key, "count", 1)
        pipe.expire(key, self._ttl)
        count, _ = pipe.execute()
        return int(count)

    def healthy(self) -> bool:
        try:
            return bool(self._redis.ping())
        except Exception:
            return False


def store_from_env(env: dict[str, str]) -> SessionStore:
    url = env.get("SESSION_STORE_URL", "")
    backend = env.get("SESSION_BACKEND", "") or ("redis" if url else "memory")
    if backend == "memory":
        return MemoryStore()
    if backend == "redis":
        if not url:
            raise SystemExit("session-app: SESSION_BACKEND=redis needs SESSION_STORE_URL")
        ttl = env.get("SESSION_TTL_SECONDS", "3600")
        if not ttl.isdigit() or int(ttl) < 1:
            raise SystemExit(f"session-app: SESSION_TTL_SECONDS must be >= 1 (got {ttl!r})")
        return RedisStore(url, int(ttl))
    raise SystemExit(f"session-app: SESSION_BACKEND must be redis or memory (got {backend!r})")


def greeting_from(path: str) -> str:
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        return ""
    except tomllib.TOMLDecodeError as err:
        raise SystemExit(f"session-app: {path}: {err}") from None
    return str(config.get("greeting", ""))


def make_handler(store: SessionStore, instance: str, greeting: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "session-app"

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug(fmt, *args)

        def _send(self, status: int, body: bytes, ctype: str, cookie: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if cookie:
                self.send_header("Set-Cookie", f"{COOKIE}={cookie}; Path=/; HttpOnly")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok = store.healthy()
                self._send(200 if ok else 503, b"ok\n" if ok else b"store down\n", "text/plain")
                return
            if self.path != "/":
                self._send(404, b"not found\n", "text/plain")
                return
            jar: cookies.SimpleCookie = cookies.SimpleCookie()
            with contextlib.suppress(cookies.CookieError):  # malformed: a new visitor
                jar.load(self.headers.get("Cookie", ""))
            sid = jar[COOKIE].value if COOKIE in jar else ""
            if not sid or len(sid) > 64:
                sid = secrets.token_urlsafe(16)
            count = store.increment(sid)
            body = {"count": count, "instance": instance, "greeting": greeting}
            body["backend"] = store.name
            self._send(200, json.dumps(body).encode() + b"\n", "application/json", cookie=sid)

    return Handler


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    env = dict(os.environ)
    store = store_from_env(env)
    instance = env.get("INSTANCE_NAME") or env.get("POD_NAME") or socket.gethostname()
    greeting = greeting_from(env.get("APP_CONFIG", "/etc/app/app.toml"))
    address = env.get("APP_ADDRESS", "0.0.0.0")
    port = env.get("APP_PORT", "8080")
    if not port.isdigit():
        raise SystemExit(f"session-app: APP_PORT must be a port number (got {port!r})")
    server = ThreadingHTTPServer((address, int(port)), make_handler(store, instance, greeting))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("instance %s on %s:%s, sessions in %s", instance, address, port, store.name)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
