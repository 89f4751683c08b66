"""Certificates and keys for the local control plane, made with the openssl CLI.

One CA signs the API server's serving certificate and one client certificate per
caller; the service-account token key pair is separate. Everything is made once
and reused by later ``cluster up`` runs (``cluster down --purge`` removes it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chartmatrix.cluster.nodeconf import NODE_IP  # pods reach the API server there
from chartmatrix.errors import ChartmatrixError

DAYS = "3650"
SERVICE_IP = "10.96.0.1"
APISERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Client:
    """A client certificate: file stem, common name (user) and organisation (group)."""

    stem: str
    user: str
    group: str = ""


CLIENTS = (
    Client("admin", "chartmatrix-admin", "system:masters"),
    Client("controller-manager", "system:kube-controller-manager"),
    Client("scheduler", "system:kube-scheduler"),
    Client("kwok", "chartmatrix-kwok", "system:masters"),
    Client("provisioner", "chartmatrix-provisioner", "system:masters"),
)


def _openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise ChartmatrixError(None, "openssl not found on PATH: it makes the cluster certificates")
    done = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ChartmatrixError(None, f"openssl {args[0]} failed: {done.stderr.strip()}")


def _ec_key(path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )
    path.chmod(0o600)


def _sign(pki: Path, stem: str, subject: str, extensions: list[str]) -> None:
    key, csr, crt = pki / f"{stem}.key", pki / f"{stem}.csr", pki / f"{stem}.crt"
    _ec_key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    with tempfile.NamedTemporaryFile("w", suffix=".ext", dir=pki, delete=False) as ext:
        ext.write("\n".join(extensions) + "\n")
    try:
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(pki / "ca.crt"),
            "-CAkey",
            str(pki / "ca.key"),
            "-CAcreateserial",
            "-days",
            DAYS,
            "-out",
            str(crt),
            "-extfile",
            ext.name,
        )
    finally:
        Path(ext.name).unlink()
        csr.unlink()


def ensure_pki(pki: Path) -> None:
    """Create whatever of the CA, certificates and service-account keys is missing."""
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "ca.crt").is_file():
        _ec_key(pki / "ca.key")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(pki / "ca.key"),
            "-subj",
            "/CN=chartmatrix-local-ca",
            "-days",
            DAYS,
            "-out",
            str(pki / "ca.crt"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
    apiserver_alt = ["IP:127.0.0.1", f"IP:{SERVICE_IP}", f"IP:{NODE_IP}"]
    ensure_serving_cert(pki, "apiserver", "kube-apiserver", [*apiserver_alt, *APISERVER_NAMES])
    for client in CLIENTS:
        ensure_client_cert(pki, client)
    if not (pki / "sa.key").is_file():
        _openssl(
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(pki / "sa.key"),
        )
        (pki / "sa.key").chmod(0o600)
        _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def ensure_client_cert(pki: Path, client: Client) -> None:
    """``pki/<stem>.crt`` for ``client``, signed by the CA, unless it exists."""
    if (pki / f"{client.stem}.crt").is_file():
        return
    subject = (f"/O={client.group}" if client.group else "") + f"/CN={client.user}"
    _sign(
        pki,
        client.stem,
        subject,
        [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=clientAuth",
        ],
    )


def ensure_serving_cert(pki: Path, stem: str, common_name: str, names: list[str]) -> None:
    """A serving certificate for ``names`` (``IP:...`` entries, others are DNS names).

    Remade when the names differ from the ones it was made for (``<stem>.names``):
    a certificate made before an address was added here gains it.
    """
    alt = ",".join(n if n.startswith("IP:") else f"DNS:{n}" for n in names)
    record = pki / f"{stem}.names"
    if (pki / f"{stem}.crt").is_file() and record.is_file() and record.read_text().strip() == alt:
        return
    _sign(
        pki,
        stem,
        f"/CN={common_name}",
        [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth",
            f"subjectAltName={alt}",
        ],
    )
    record.write_text(alt + "\n")
