"""A minimal HTTPS client for the local API server (client-certificate auth).

Used while the cluster starts and for status: it needs nothing but the standard
library, so ``cluster up`` does not wait for the Python Kubernetes client to load.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class Api:
    def __init__(self, server: str, pki: Path, stem: str = "admin", timeout: float = 5.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self._ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self._ctx.load_cert_chain(str(pki / f"{stem}.crt"), str(pki / f"{stem}.key"))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Return (HTTP status, decoded JSON or text); network errors give status 0."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=self.timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            return 0, str(exc)

    def get(self, path: str) -> Any:
        status, payload = self.request("GET", path)
        return payload if status == 200 else None

    def create(self, path: str, obj: dict[str, Any]) -> int:
        """POST ``obj``; an existing object (409) counts as created."""
        status, payload = self.request("POST", path, obj)
        if status in (200, 201, 202, 409):
            return status
        raise RuntimeError(f"POST {path} failed ({status}): {payload}")


def _decode(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
