"""``--json FILE``: the whole run as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json_data(data: dict[str, Any], file: Path) -> None:
    Path(file).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
