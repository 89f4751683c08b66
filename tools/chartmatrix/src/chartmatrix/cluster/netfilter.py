"""The real node's host network: its bridge, the sysctls it needs, its isolation rules.

``setup`` creates the bridge with the node IP, saves and then sets the sysctls
(forwarding for Service VIPs, br_netfilter so bridged pod traffic meets kube-proxy's
rules, and the ones kubelet sets on start), and loads the ``inet chartmatrix`` nftables
table: nothing is forwarded between the bridge and any other interface, and the
API server's port (bound on all addresses so pods reach it on the node IP) answers
only on loopback and the bridge. ``teardown`` undoes all of it and removes what
kube-proxy, kubelet and the CNI plugins left in iptables (chains ``KUBE-*`` and
``CNI-*``, the rules that jump to them, and tables that exist only because of them).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

from chartmatrix.cluster.nodeconf import BRIDGE, NODE_IP, PREFIX_LEN, NodePaths
from chartmatrix.errors import ChartmatrixError

NFT_FAMILY, NFT_TABLE = "inet", "chartmatrix"
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
}
# set by kubelet itself at start (protectKernelDefaults: false): restored at down
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/conf/all/route_localnet",
)
OUR_CHAIN_PREFIXES = ("KUBE-", "CNI-")
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw")


def run(argv: list[str], check: bool = True, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, input=stdin, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChartmatrixError(None, f"{argv[0]} failed: {exc}") from None
    if check and done.returncode != 0:
        raise ChartmatrixError(None, f"{' '.join(argv[:4])} failed: {done.stderr.strip()}")
    return done.stdout


def ruleset(apiserver_port: int) -> str:
    """Our table (nft syntax): pods reach nothing outside the bridge and nothing outside
    reaches them; the API server port answers on loopback and the bridge only."""
    return f"""\
table {NFT_FAMILY} {NFT_TABLE} {{
  chain forward {{
    type filter hook forward priority -10; policy accept;
    iifname "{BRIDGE}" oifname != "{BRIDGE}" counter drop
    oifname "{BRIDGE}" iifname != "{BRIDGE}" counter drop
  }}
  chain input {{
    type filter hook input priority -10; policy accept;
    tcp dport {apiserver_port} iifname != {{ "lo", "{BRIDGE}" }} counter drop
  }}
}}
"""


# --- sysctls -------------------------------------------------------------------
def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name


def read_sysctl(name: str) -> str | None:
    try:
        return _sysctl_path(name).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    try:
        _sysctl_path(name).write_text(value + "\n")
    except OSError as exc:
        raise ChartmatrixError(_sysctl_path(name), f"cannot set to {value}: {exc}") from None


def save_sysctls(paths: NodePaths) -> None:
    """Record the values before the first ``up`` (kept until ``down`` restores them)."""
    if paths.saved_sysctls.is_file():
        return
    values = {n: read_sysctl(n) for n in (*SYSCTLS, *KUBELET_SYSCTLS)}
    paths.saved_sysctls.parent.mkdir(parents=True, exist_ok=True)
    paths.saved_sysctls.write_text(json.dumps(values, indent=2) + "\n")


def restore_sysctls(paths: NodePaths) -> None:
    try:
        saved = json.loads(paths.saved_sysctls.read_text())
    except (OSError, ValueError):
        return
    for name, value in saved.items():
        if value is not None and read_sysctl(name) != value:
            with contextlib.suppress(ChartmatrixError):
                write_sysctl(name, value)
    paths.saved_sysctls.unlink(missing_ok=True)


# --- nftables tables ----------------------------------------------------------
def nft_tables() -> list[str]:
    """``family name`` of every nftables table."""
    return [line[len("table ") :] for line in run(["nft", "list", "tables"]).splitlines() if line]


def nft_rule_count(table: str) -> int:
    doc = json.loads(run(["nft", "-j", "list", "table", *table.split()]) or "{}")
    return sum(1 for item in doc.get("nftables", []) if "rule" in item)


# --- bridge --------------------------------------------------------------------
def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def addresses_in_use(subnet_prefix: str) -> list[str]:
    """Interfaces other than ours with an address or route in the node's range."""
    clash = []
    for line in run(["ip", "-o", "-4", "addr", "show"]).splitlines():
        cols = line.split()
        if len(cols) > 3 and cols[1] != BRIDGE and cols[3].startswith(subnet_prefix):
            clash.append(f"{cols[1]} {cols[3]}")
    for line in run(["ip", "-4", "route", "show"]).splitlines():
        if line.startswith(subnet_prefix) and f"dev {BRIDGE}" not in line:
            clash.append(f"route {line}")
    return clash


def setup(paths: NodePaths, apiserver_port: int) -> None:
    """Bridge, sysctls and the isolation table (idempotent)."""
    prefix = NODE_IP.rsplit(".", 1)[0] + "."
    clash = addresses_in_use(prefix)
    if clash:
        raise ChartmatrixError(
            None, f"the node range {prefix}0/{PREFIX_LEN} is in use here: {'; '.join(clash)}"
        )
    if not paths.saved_tables.is_file():
        paths.saved_tables.parent.mkdir(parents=True, exist_ok=True)
        paths.saved_tables.write_text(json.dumps(nft_tables()) + "\n")
    save_sysctls(paths)
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "replace", f"{NODE_IP}/{PREFIX_LEN}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    for name, value in SYSCTLS.items():
        write_sysctl(name, value)
    # one transaction: the old table (if any) goes, the new one comes
    if f"{NFT_FAMILY} {NFT_TABLE}" in nft_tables():
        run(["nft", "delete", "table", NFT_FAMILY, NFT_TABLE])
    run(["nft", "-f", "-"], stdin=ruleset(apiserver_port))


def remove_bridge() -> None:
    """Delete the veths still attached to the bridge, then the bridge."""
    if not link_exists(BRIDGE):
        return
    ports = Path("/sys/class/net", BRIDGE, "brif")
    for port in sorted(p.name for p in ports.iterdir()) if ports.is_dir() else []:
        run(["ip", "link", "delete", port], check=False)
    run(["ip", "link", "delete", BRIDGE], check=False)


def _ours(chain: str) -> bool:
    return chain.startswith(OUR_CHAIN_PREFIXES)


def iptables_leftovers(tool: str) -> dict[str, list[str]]:
    """``{table: [our chains]}`` for ``iptables`` or ``ip6tables``."""
    found: dict[str, list[str]] = {}
    for table in IPTABLES_TABLES:
        text = run([f"{tool}-save", "-t", table], check=False)
        chains = [ln[1:].split()[0] for ln in text.splitlines() if ln.startswith(":")]
        ours = [c for c in chains if _ours(c)]
        if ours:
            found[table] = ours
    return found


def clean_iptables(tool: str) -> None:
    """Remove every rule that jumps to a chain of ours, then flush and delete those chains."""
    for table in IPTABLES_TABLES:
        text = run([f"{tool}-save", "-t", table], check=False)
        chains = [ln[1:].split()[0] for ln in text.splitlines() if ln.startswith(":")]
        ours = [c for c in chains if _ours(c)]
        if not ours:
            continue
        lines = [f"*{table}"]
        for line in text.splitlines():
            cols = line.split()
            if line.startswith("-A ") and not _ours(cols[1]) and jumps_to_ours(cols):
                lines.append("-D" + line[2:])
        lines += [f"-F {c}" for c in ours] + [f"-X {c}" for c in ours] + ["COMMIT", ""]
        run([f"{tool}-restore", "--noflush"], stdin="\n".join(lines))


def jumps_to_ours(cols: list[str]) -> bool:
    return any(flag in ("-j", "-g") and _ours(target) for flag, target in itertools.pairwise(cols))


def teardown(paths: NodePaths) -> None:
    """Undo ``setup`` and what the node's components added; safe to repeat."""
    remove_bridge()
    for tool in ("iptables", "ip6tables"):
        with contextlib.suppress(ChartmatrixError):
            clean_iptables(tool)
    try:
        tables = nft_tables()
    except ChartmatrixError:
        tables = []
    if f"{NFT_FAMILY} {NFT_TABLE}" in tables:
        run(["nft", "delete", "table", NFT_FAMILY, NFT_TABLE], check=False)
    before = _saved_tables(paths)
    if before is not None:
        # tables iptables-nft created for kube-proxy's rules, now empty
        for table in tables:
            if table not in before and table != f"{NFT_FAMILY} {NFT_TABLE}":
                with contextlib.suppress(ChartmatrixError, ValueError):
                    if nft_rule_count(table) == 0:
                        run(["nft", "delete", "table", *table.split()], check=False)
        paths.saved_tables.unlink(missing_ok=True)
    restore_sysctls(paths)


def _saved_tables(paths: NodePaths) -> list[str] | None:
    try:
        data: Any = json.loads(paths.saved_tables.read_text())
    except (OSError, ValueError):
        return None
    return [str(t) for t in data] if isinstance(data, list) else None
