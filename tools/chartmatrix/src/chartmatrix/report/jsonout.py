"""``--json FILE``: the whole run as JSON, written case by case."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from chartmatrix.report.output import write_pieces


def json_pieces(value: Any, indent: int = 0) -> Iterator[str]:
    """``json.dumps(value, indent=2)`` in pieces; any sequence (a report's lazy
    :class:`~chartmatrix.report.model.CaseRecords` too) is written as a list."""
    if isinstance(value, Mapping) and value:
        inner = " " * (indent + 2)
        for i, (key, item) in enumerate(value.items()):
            yield ("{\n" if i == 0 else ",\n") + inner + json.dumps(str(key)) + ": "
            yield from json_pieces(item, indent + 2)
        yield "\n" + " " * indent + "}"
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value):
        inner = " " * (indent + 2)
        for i, item in enumerate(value):
            yield ("[\n" if i == 0 else ",\n") + inner
            yield from json_pieces(item, indent + 2)
        yield "\n" + " " * indent + "]"
    elif isinstance(value, Mapping):
        yield "{}"
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        yield "[]"
    else:
        yield json.dumps(value)


def write_json_data(data: dict[str, Any], file: Path) -> None:
    write_pieces(file, itertools.chain(json_pieces(data), ["\n"]))
