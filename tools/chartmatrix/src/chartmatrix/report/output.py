"""Report files written piece by piece, and in place only once whole."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from chartmatrix.errors import ChartmatrixError


def write_pieces(file: Path, pieces: Iterable[str]) -> None:
    """Write ``pieces`` to ``file`` as they come (a large run's report is never held
    whole), through a temporary file beside it: a report that fails half-way leaves
    the previous file as it was, never a half-written one."""
    file = Path(file)
    try:
        if file.exists() and not file.is_file():  # /dev/stdout, a pipe: written as it comes
            with file.open("w", encoding="utf-8") as out:
                out.writelines(pieces)
            return
        temporary = file.with_name(f".{file.name}.{secrets.token_hex(4)}.tmp")
        # created as a plain open() would create the file: mode 0666 less the umask
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise ChartmatrixError(file, f"cannot write the report: {e.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for piece in pieces:
                out.write(piece)
        os.replace(temporary, file)
    except BaseException as e:
        temporary.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise ChartmatrixError(file, f"cannot write the report: {e.strerror}") from None
        raise
