"""``--json FILE``: the whole run as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from chartmatrix.report.model import to_dict
from chartmatrix.runner import RunResult


def write_json(run: RunResult, file: Path) -> None:
    Path(file).write_text(json.dumps(to_dict(run), indent=2) + "\n", encoding="utf-8")
