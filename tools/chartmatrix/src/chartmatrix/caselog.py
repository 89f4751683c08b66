"""A chart's case results, in run order, kept on disk once final.

A run keeps every case's result for its reports, so results held in memory grew with
the number of cases (about 1 KB each: findings, notes, golden verdict). A
:class:`CaseLog` holds a result in memory only while a later stage may still change it
(the golden stage settles a batch after its checks, and cases that render CRDs at the
end of the run); :meth:`CaseLog.spill` then pickles the final ones to an unnamed
temporary file, deleted with the log, and keeps 8 bytes per case: where it starts.
"""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Callable, Iterator, Sequence
from tempfile import TemporaryFile
from typing import IO, TYPE_CHECKING, overload

if TYPE_CHECKING:
    from chartmatrix.runner import CaseResult


class CaseLog(Sequence["CaseResult"]):
    """An append-only sequence of case results; a result read back from disk is a copy."""

    def __init__(self, results: Sequence[CaseResult] = ()) -> None:
        self._starts = array("q")  # file offset per position; -1 while held in memory
        self._held: dict[int, CaseResult] = {}
        self._file: IO[bytes] | None = None
        for result in results:
            self.append(result)

    def append(self, result: CaseResult) -> None:
        self._held[len(self._starts)] = result
        self._starts.append(-1)

    def spill(self, keep: Callable[[CaseResult], bool] = lambda _: False) -> None:
        """Write the held results to disk, except those ``keep`` says may still change."""
        for position in sorted(self._held):
            result = self._held[position]
            if keep(result):
                continue
            if self._file is None:
                # unnamed, closed and gone with the log
                self._file = TemporaryFile(prefix="chartmatrix-cases-")  # noqa: SIM115
            self._file.seek(0, 2)
            self._starts[position] = self._file.tell()
            pickle.dump(result, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            del self._held[position]

    @property
    def in_memory(self) -> int:
        """How many results are held in memory (not yet spilled)."""
        return len(self._held)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> CaseResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[CaseResult]: ...
    def __getitem__(self, index: int | slice) -> CaseResult | list[CaseResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(len(self))[index]  # negative indexes; IndexError past the end
        if position in self._held:
            return self._held[position]
        assert self._file is not None
        self._file.seek(self._starts[position])
        return pickle.load(self._file)

    def __iter__(self) -> Iterator[CaseResult]:
        for position in range(len(self)):
            yield self[position]
