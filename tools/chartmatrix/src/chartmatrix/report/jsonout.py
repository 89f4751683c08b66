"""``--json FILE``: the whole run as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chartmatrix.report.model import to_dict
from chartmatrix.runner import RunResult


def write_json(run: RunResult, file: Path) -> None:
    write_json_data(to_dict(run), file)


def write_json_data(data: dict[str, Any], file: Path) -> None:
    Path(file).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
