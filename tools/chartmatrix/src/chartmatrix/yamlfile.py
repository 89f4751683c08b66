"""Load YAML files from disk, turning every failure into a one-line ChartmatrixError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartmatrix import k8syaml
from chartmatrix.errors import ChartmatrixError


def _describe(exc: k8syaml.YamlError) -> str:
    return f"invalid YAML at {exc}" if exc.line is not None else f"invalid YAML: {exc}"


def load_yaml_file(path: Path, *, expect_mapping: bool = True) -> Any:
    """Read one YAML document as helm reads values files (sigs.k8s.io/yaml: ``yes`` is
    true, ``1e3`` a number, dates stay strings). An empty file is an empty mapping.

    Bad YAML, values JSON cannot hold (``.inf``) and alias bombs are one-line errors.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChartmatrixError(path, "file not found") from None
    except OSError as exc:
        raise ChartmatrixError(path, f"cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ChartmatrixError(path, "file is not UTF-8 text") from None
    try:
        data = k8syaml.load(text)
    except k8syaml.YamlError as exc:
        raise ChartmatrixError(path, _describe(exc)) from None
    if data is None:
        data = {}
    if expect_mapping and not isinstance(data, dict):
        raise ChartmatrixError(path, f"top level must be a mapping (got {type(data).__name__})")
    return data
