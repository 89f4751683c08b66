"""The project's chartmatrix settings: per-rule severities and the checksum convention.

One file configures the whole project. chartmatrix looks for it from the project root
(:func:`chartmatrix.project.find_root`: ``--root``, else found from the current
directory) upwards, nearest first, and stops at the repository root (the directory
that holds ``.git``)::

    # chartmatrix.yaml
    checksumConvention: strict    # presence (default) | strict | data-hash
    severity:
      topology/pdb: warning
      hardening/*: "off"          # quote off: plain YAML off is a boolean

    # pyproject.toml
    [tool.chartmatrix]
    checksumConvention = "strict"
    [tool.chartmatrix.severity]
    "topology/pdb" = "warning"
    "hardening/*" = "off"

``checksumConvention`` (:mod:`chartmatrix.checksumconvention`) applies to every spec
that does not set its own.

A key is a rule id or a glob over rule ids (``chartmatrix rules`` lists them); a value is
``error``, ``warning`` or ``off``. An exact id wins over globs, a longer glob over a
shorter one. The severity applies to every finding of the rule; ``off`` does not run it.
A ``pyproject.toml`` without ``[tool.chartmatrix]`` is passed over; a directory with both
files is an error, as are unknown keys, unknown rule ids and other values.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartmatrix.checksumconvention import parse_convention
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Severity
from chartmatrix.project import CONFIG_FILE, PYPROJECT, find_root, has_tool_table, read_toml
from chartmatrix.yamlfile import load_yaml_file

LEVELS = {"error": Severity.ERROR, "warning": Severity.WARNING, "off": None}
KEYS = ("severity", "checksumConvention")


@dataclass(frozen=True)
class ProjectConfig:
    """Where the settings came from (None: defaults) and the severity per key, in order."""

    file: Path | None = None
    severity: tuple[tuple[str, str], ...] = ()
    checksum_convention: str | None = None  # None: unset (specs default to presence)
    deprecations: tuple[str, ...] = ()  # old spellings, reported as warnings

    def level(self, rule_id: str) -> str | None:
        """The configured level (error/warning/off) of ``rule_id``, or None."""
        exact = [level for key, level in self.severity if key == rule_id]
        if exact:
            return exact[-1]
        globs = [
            (len(key), i, level)
            for i, (key, level) in enumerate(self.severity)
            if fnmatch.fnmatchcase(rule_id, key)
        ]
        return max(globs)[2] if globs else None

    def severities(self, rule_ids: Mapping[str, Any] | None = None) -> dict[str, Severity | None]:
        """Overrides for ``run_rules``: rule id -> severity (None: off), configured rules only."""
        if rule_ids is None:
            from chartmatrix.rules import RULES

            rule_ids = RULES
        out: dict[str, Severity | None] = {}
        for rule_id in rule_ids:
            level = self.level(rule_id)
            if level is not None:
                out[rule_id] = LEVELS[level]
        return out

    def effective(self, rule_id: str, default: Severity) -> str:
        """What ``chartmatrix rules`` shows: error, warning or off."""
        level = self.level(rule_id)
        return default.value if level is None else level


def find_config(start: Path | None = None) -> Path | None:
    """The nearest chartmatrix.yaml or pyproject.toml with [tool.chartmatrix], from
    ``start`` (default: the project root) up to the repository root."""
    here = (start or find_root()).resolve()
    for directory in (here, *here.parents):
        found = [directory / CONFIG_FILE] if (directory / CONFIG_FILE).is_file() else []
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and has_tool_table(pyproject):
            found.append(pyproject)
        if len(found) > 1:
            raise ChartmatrixError(
                directory,
                f"both {CONFIG_FILE} and {PYPROJECT} [tool.chartmatrix] configure chartmatrix; "
                "keep one",
            )
        if found:
            return found[0]
        if (directory / ".git").exists():
            return None
    return None


def parse_config(data: Any, file: Path, table: str, rule_ids: Mapping[str, Any]) -> ProjectConfig:
    """Validate the settings ``data`` read from ``file`` (``table``: where they sit, for
    messages: ``[tool.chartmatrix]`` or the empty string for the YAML top level)."""
    where = f"{table} " if table else ""
    if not isinstance(data, dict):
        raise ChartmatrixError(file, f"{where}must be a mapping (got {type(data).__name__})")
    for key in data:
        if key not in KEYS:
            raise ChartmatrixError(file, f"{where}unknown key {key!r} (known: {', '.join(KEYS)})")
    severity = data.get("severity") or {}
    if not isinstance(severity, dict):
        raise ChartmatrixError(file, f"{where}severity must be a mapping of rule id to level")
    items = []
    for key, value in severity.items():
        name = f"{table[:-1]}.severity] {key!r}" if table else f"severity.{key}"
        if value is False:  # YAML's plain off
            value = "off"
        if not isinstance(value, str) or value.lower() not in LEVELS:
            raise ChartmatrixError(
                file, f"{name}: level must be error, warning or off (got {value!r})"
            )
        if not any(fnmatch.fnmatchcase(rule_id, str(key)) for rule_id in rule_ids):
            raise ChartmatrixError(file, f"{name}: unknown rule id (see `chartmatrix rules`)")
        items.append((str(key), value.lower()))
    convention, note = None, None
    if "checksumConvention" in data:
        name = f"{table[:-1]}] checksumConvention" if table else "checksumConvention"
        convention, note = parse_convention(data["checksumConvention"], f"{file}: {name}")
    return ProjectConfig(file, tuple(items), convention, (note,) if note else ())


def load_project_config(
    start: Path | None = None, rule_ids: Mapping[str, Any] | None = None
) -> ProjectConfig:
    """The repository's settings (defaults when there is no config file)."""
    if rule_ids is None:
        from chartmatrix.rules import RULES

        rule_ids = RULES
    file = find_config(start)
    if file is None:
        return ProjectConfig()
    if file.name == PYPROJECT:
        data = (read_toml(file).get("tool") or {}).get("chartmatrix")
        return parse_config(data, file, "[tool.chartmatrix]", rule_ids)
    return parse_config(load_yaml_file(file, unique_keys=True), file, "", rule_ids)
