"""Load YAML files from disk, turning every failure into a one-line ChartmatrixError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartmatrix import k8syaml
from chartmatrix.errors import ChartmatrixError


def _describe(exc: k8syaml.YamlError) -> str:
    return f"invalid YAML at {exc}" if exc.line is not None else f"invalid YAML: {exc}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChartmatrixError(path, "file not found") from None
    except OSError as exc:
        raise ChartmatrixError(path, f"cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ChartmatrixError(path, "file is not UTF-8 text") from None


def _mapping(data: Any, path: Path, expect_mapping: bool) -> Any:
    if data is None:
        data = {}
    if expect_mapping and not isinstance(data, dict):
        raise ChartmatrixError(path, f"top level must be a mapping (got {type(data).__name__})")
    return data


def load_yaml_file(path: Path, *, expect_mapping: bool = True, unique_keys: bool = False) -> Any:
    """Read one YAML document as helm reads values files (sigs.k8s.io/yaml: ``yes`` is
    true, ``1e3`` a number, dates stay strings). An empty file is an empty mapping.

    Bad YAML, values JSON cannot hold (``.inf``) and alias bombs are one-line errors; so
    is a key given twice in a mapping with ``unique_keys`` (chartmatrix's own files).
    """
    try:
        data = k8syaml.load(_read(path), unique_keys=unique_keys)
    except k8syaml.YamlError as exc:
        raise ChartmatrixError(path, _describe(exc)) from None
    return _mapping(data, path, expect_mapping)


def load_values_file(path: Path) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """A chart's values file as Helm v4 reads it, how many documents that are not empty
    it holds, and the first of them, which Helm v3 reads. Helm accepts a file of several
    documents (``---``) but reads one: v4 the last that is not empty, v3 the first."""
    try:
        documents = [d for d in k8syaml.load_all(_read(path)) if d is not None]
    except k8syaml.YamlError as exc:
        raise ChartmatrixError(path, _describe(exc)) from None
    last = _mapping(documents[-1] if documents else None, path, True)
    first = _mapping(documents[0], path, True) if documents else last
    return last, len(documents), first
