"""The tester's own errors: one clear line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class ChartmatrixError(Exception):
    """A usage or configuration problem (bad spec, missing chart, helm missing, bad YAML).

    Rendered by the CLI as exactly one line: ``chartmatrix: <where>: <problem>``.
    """

    def __init__(self, where: str | Path | None, problem: str) -> None:
        self.where = str(where) if where is not None else ""
        self.problem = " ".join(problem.split())
        super().__init__(self.line())

    def line(self) -> str:
        if self.where:
            return f"chartmatrix: {self.where}: {self.problem}"
        return f"chartmatrix: {self.problem}"
