"""The few Dockerfile instructions an example app's image is described with.

The stand-in image of an example takes its entrypoint, user, working directory, env,
ports and copied files from the example's own Dockerfile, so the two cannot drift.
FROM and RUN are not executed: the base is Debian's python3 and the RUN step's
`pip install -r requirements.txt` is done by the builder (pip --target, cp311 wheels).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImageError

_KNOWN = {"FROM", "WORKDIR", "COPY", "RUN", "USER", "ENV", "EXPOSE", "ENTRYPOINT", "CMD"}


@dataclass
class Dockerfile:
    """What the builder takes from a Dockerfile."""

    workdir: str = "/"
    user: str = ""
    env: dict[str, str] = field(default_factory=dict)
    exposed: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    copies: list[tuple[list[str], str]] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _exec_form(value: str, path: Path, instruction: str) -> list[str]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise ImageError(f"{path}: {instruction} must be in exec form (a JSON list of strings)")
    return parsed


def read_dockerfile(path: Path) -> Dockerfile:
    """Parse path; an instruction the builder cannot honour is a one-line error."""
    if not path.is_file():
        raise ImageError(f"{path}: no such Dockerfile")
    spec = Dockerfile()
    for line in _logical_lines(path.read_text()):
        instruction, _, value = line.partition(" ")
        instruction = instruction.upper()
        value = value.strip()
        if instruction not in _KNOWN:
            raise ImageError(f"{path}: instruction {instruction} is not supported by the builder")
        if instruction == "WORKDIR":
            spec.workdir = value if value.startswith("/") else f"{spec.workdir.rstrip('/')}/{value}"
        elif instruction == "USER":
            spec.user = value
        elif instruction == "ENV":
            for pair in shlex.split(value):
                name, sep, setting = pair.partition("=")
                if not sep:
                    raise ImageError(f"{path}: ENV {pair!r} must be NAME=VALUE")
                spec.env[name] = setting
        elif instruction == "EXPOSE":
            spec.exposed += [p if "/" in p else f"{p}/tcp" for p in value.split()]
        elif instruction == "ENTRYPOINT":
            spec.entrypoint = _exec_form(value, path, instruction)
        elif instruction == "CMD":
            spec.cmd = _exec_form(value, path, instruction)
        elif instruction == "COPY":
            words = [w for w in shlex.split(value) if not w.startswith("--")]
            if len(words) < 2:
                raise ImageError(f"{path}: COPY needs a source and a destination ({line!r})")
            spec.copies.append((words[:-1], words[-1]))
    return spec
