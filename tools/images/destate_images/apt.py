"""Debian's archive as this machine's apt sees it: the mirror lines and candidate versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from .errors import ImageError

SOURCES = Path("/etc/apt/sources.list")
SOURCES_DIR = Path("/etc/apt/sources.list.d")
# Only Debian's own archive goes into an image; third-party repositories of the host
# (vendor SDKs, Node.js) never do.
DEBIAN_HOSTS = ("deb.debian.org", "security.debian.org")


def _is_debian(uri: str) -> bool:
    host = urlparse(uri).hostname or ""
    return host in DEBIAN_HOSTS


def _one_line_entries(text: str) -> list[tuple[str, str, list[str]]]:
    entries = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 4 and words[0] == "deb":
            entries.append((words[1], words[2], words[3:]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, str, list[str]]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                entries.append((uri, suite, fields.get("components", "main").split()))
    return entries


def debian_sources(
    suite: str, sources: Path = SOURCES, sources_dir: Path = SOURCES_DIR
) -> list[str]:
    """The one-line `deb URI SUITE COMPONENTS` entries of Debian's archive for suite
    (and its -updates and -security suites) from this machine's apt sources."""
    entries: list[tuple[str, str, list[str]]] = []
    if sources.is_file():
        entries += _one_line_entries(sources.read_text())
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if path.suffix == ".list":
                entries += _one_line_entries(path.read_text())
            elif path.suffix == ".sources":
                entries += _deb822_entries(path.read_text())
    wanted = {suite, f"{suite}-updates", f"{suite}-security"}
    lines = sorted(
        {
            f"deb {uri} {s} {' '.join(components)}"
            for uri, s, components in entries
            if s in wanted and _is_debian(uri)
        }
    )
    if not any(f" {suite} " in line for line in lines):
        raise ImageError(
            f"no Debian {suite} entry (deb.debian.org) in {sources} or {sources_dir}: "
            "the images are built from the machine's Debian mirror"
        )
    return lines


def candidate_versions(packages: list[str]) -> dict[str, str]:
    """Each package's candidate version (apt-cache policy); refreshes the package lists
    once when one is unknown."""
    versions = _policy(packages)
    missing = [p for p in packages if p not in versions]
    if missing:
        _run(["apt-get", "update", "-qq"], "apt-get update")
        versions = _policy(packages)
        missing = [p for p in packages if p not in versions]
    if missing:
        raise ImageError(f"apt knows no candidate version of: {' '.join(missing)}")
    return versions


def _policy(packages: list[str]) -> dict[str, str]:
    out = subprocess.run(
        ["apt-cache", "policy", *packages],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    versions: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:") and current:
            version = line.split(":", 1)[1].strip()
            if version != "(none)":
                versions[current] = version
    return versions


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ImageError(f"{what} failed: {last}")


def ensure_mmdebstrap() -> str:
    """Path of mmdebstrap, installed from Debian's archive (as root) when missing."""
    found = shutil.which("mmdebstrap")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ImageError("mmdebstrap is missing: install it as root with apt-get (Debian)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"]
    if subprocess.run(command, check=False, capture_output=True, env=env).returncode != 0:
        _run(["apt-get", "update", "-qq"], "apt-get update")
        _run(command, "apt-get install mmdebstrap")
    found = shutil.which("mmdebstrap")
    if not found:
        raise ImageError("apt-get installed mmdebstrap but it is not on PATH")
    return found
