"""Throwaway TLS material for the behaviour tests: a CA and server certificates signed by it,
made with the openssl CLI (the `cryptography` package is not among the dev extras).
Keys are EC P-256; everything lives in the test's temporary directory."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from .procs import in_ci, run

EC_KEY = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]


def openssl(*args: str | Path) -> None:
    """Run `openssl ARGS...` (skips, or fails in CI, without the openssl CLI)."""
    found = shutil.which("openssl")
    if not found:
        reason = "openssl is not installed (apt-get install openssl)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    argv = [str(found), *map(str, args)]
    run(argv, what=f"openssl {args[0]}")


@dataclass(frozen=True)
class Ca:
    cert: Path
    key: Path

    def issue(self, workdir: Path, name: str, dns_names: list[str]) -> ServerCert:
        """A server certificate for `dns_names` (subjectAltName DNS entries), valid one day."""
        key, csr, cert = (workdir / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext = workdir / f"{name}.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName={','.join(f'DNS:{n}' for n in dns_names)}\n"
        )
        openssl(*EC_KEY, key)
        openssl("req", "-new", "-key", key, "-subj", f"/CN={dns_names[0]}", "-out", csr)
        serial = workdir / f"{self.cert.stem}.srl"
        openssl(
            *("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key),
            *("-CAserial", serial, "-CAcreateserial", "-days", "1", "-sha256"),
            *("-extfile", ext, "-out", cert),
        )
        return ServerCert(cert=cert, key=key, ca=self.cert)


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path
    ca: Path

    def secret(self, name: str, namespace: str = "default") -> dict[str, object]:
        """The kubernetes.io/tls Secret cert-manager would write (tls.crt, tls.key, ca.crt)."""
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {
                "tls.crt": self.cert.read_text(),
                "tls.key": self.key.read_text(),
                "ca.crt": self.ca.read_text(),
            },
        }


def make_ca(workdir: Path, name: str = "ca") -> Ca:
    """A self-signed CA (one day)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key, cert = workdir / f"{name}.key", workdir / f"{name}.crt"
    openssl(*EC_KEY, key)
    openssl(
        *("req", "-x509", "-new", "-key", key, "-subj", f"/CN=destate test {name}"),
        *("-days", "1", "-sha256", "-out", cert),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    return Ca(cert=cert, key=key)
