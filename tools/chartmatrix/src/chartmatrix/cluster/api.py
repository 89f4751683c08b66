"""A minimal JSON client for the Kubernetes API over HTTPS (standard library only).

``Api.for_pki`` authenticates with one of the local cluster's client certificates
(used while the cluster starts: no heavy imports). ``Api.from_kubeconfig`` reads
any kubeconfig context through the official client's loader (tokens, embedded
certificates, exec plugins) and then speaks plain HTTPS, so it does not depend on
the generated client's request internals, which change between its releases.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, payload: Any) -> None:
        message = payload.get("message") if isinstance(payload, dict) else str(payload)
        super().__init__(f"{method} {path} failed ({status}): {message}")
        self.status = status
        self.payload = payload


class Api:
    def __init__(
        self,
        server: str,
        context: ssl.SSLContext,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self._ctx = context
        self._headers = dict(headers or {})

    @classmethod
    def for_pki(cls, server: str, pki: Path, stem: str = "admin", timeout: float = 5.0) -> Api:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / f"{stem}.crt"), str(pki / f"{stem}.key"))
        return cls(server, ctx, timeout=timeout)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path | None, context: str | None) -> Api:
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            client_configuration=cfg,
            persist_config=False,
        )
        if cfg.verify_ssl:
            ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        else:
            ctx = ssl._create_unverified_context()
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        headers = {
            str(auth["key"]): str(auth["value"])
            for auth in cfg.auth_settings().values()
            if auth.get("value")
        }
        return cls(cfg.host, ctx, headers)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """Return (HTTP status, decoded JSON or text); network errors give status 0."""
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        for key, value in self._headers.items():
            req.add_header(key, value)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=self.timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            return 0, str(exc)

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        """The object at ``path``; None when it does not exist or cannot be read."""
        status, payload = self.request("GET", path, query=query)
        return payload if status == 200 else None

    def must_get(self, path: str, query: dict[str, str] | None = None) -> Any:
        """Like ``get`` but 404 is None and any other failure raises ApiError."""
        status, payload = self.request("GET", path, query=query)
        if status == 200:
            return payload
        if status == 404:
            return None
        raise ApiError("GET", path, status, payload)

    def items(self, path: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return list((self.must_get(path, query) or {}).get("items") or [])

    def create(self, path: str, obj: dict[str, Any], exist_ok: bool = True) -> int:
        """POST ``obj``; an existing object (409) counts as created when ``exist_ok``."""
        status, payload = self.request("POST", path, obj)
        if status in (200, 201, 202) or (exist_ok and status == 409):
            return status
        raise ApiError("POST", path, status, payload)

    def delete(self, path: str) -> bool:
        """DELETE with background propagation; False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        status, payload = self.request("DELETE", path, body)
        if status in (200, 202):
            return True
        if status == 404:
            return False
        raise ApiError("DELETE", path, status, payload)

    def patch(self, path: str, patch: dict[str, Any]) -> Any:
        status, payload = self.request(
            "PATCH", path, patch, content_type="application/merge-patch+json"
        )
        if status == 200:
            return payload
        raise ApiError("PATCH", path, status, payload)


def _decode(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
