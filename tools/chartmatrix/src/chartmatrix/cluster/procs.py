"""Background processes with pid files: each runs in its own process group.

``start`` records ``run/<name>.pid``; ``stop`` signals the whole group (SIGTERM,
then SIGKILL after a grace period) and removes the pid file. A pid file whose
process is gone, or whose pid now belongs to another program, counts as stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """A managed process: its name, pid file and log file."""

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded pid if that process is still ours and alive."""
        try:
            pid, marker = self.pid_file.read_text().split(maxsplit=1)
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
            stat = Path(f"/proc/{int(pid)}/stat").read_text()
        except (OSError, ValueError):
            return None
        if marker.strip().encode() not in cmdline:
            return None
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return None
        return int(pid)

    def alive(self) -> bool:
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        """Start ``argv`` in a new session, output appended to the log file."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        # the marker (the program path) tells our process from a later one reusing the pid
        self.pid_file.write_text(f"{child.pid} {argv[0]}\n")
        # right after exec the kernel may still show an empty command line: wait
        # until it names the program (or the process is gone) so pid() is reliable
        deadline = time.monotonic() + 2.0
        while self.pid() is None and not self.exited_early() and time.monotonic() < deadline:
            time.sleep(0.01)
        return child.pid

    def exited_early(self) -> bool:
        """True when the pid file exists but its process is gone (or a zombie).

        Only the pid's liveness counts here, not the program marker: right after
        ``exec`` the kernel may briefly show an empty command line.
        """
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        _reap(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[-1].split()[0] == "Z"

    def stop(self, grace: float = 10.0) -> bool:
        """Stop the process group; True if something was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_alive(pid):
            _reap(pid)
            time.sleep(0.1)
        if group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while group_alive(pid):
                _reap(pid)
                time.sleep(0.05)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def group_alive(pgid: int) -> bool:
    """Any non-zombie process left in process group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False
