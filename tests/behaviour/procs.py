"""Real server processes for the behaviour tests: start, bounded waits, always stopped."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

# Blocks of loopback addresses; a random start keeps two test sessions on one machine apart.
_blocks = itertools.count(random.Random(os.getpid()).randrange(10, 200))


class Fatal(AssertionError):
    """Raised by a wait_until check to stop waiting at once (e.g. the server exited)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_binary(name: str, hint: str) -> str:
    """Path of a server binary; skip the test with a clear reason (fail in CI) when missing."""
    found = shutil.which(name)
    for prefix in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"):
        candidate = Path(prefix, name)
        if not found and candidate.is_file() and os.access(candidate, os.X_OK):
            found = str(candidate)
    if found:
        return found
    reason = f"{name} is not installed ({hint})"
    if in_ci():
        pytest.fail(f"{reason}: CI installs it through tools/bootstrap-servers")
    pytest.skip(reason)
    raise AssertionError("unreachable")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (loopback only)."""
    assert host.startswith("127."), f"behaviour tests use loopback only (got {host})"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], T | None], timeout: float, what: str, step: float = 0.1) -> T:
    """Poll `check` until it returns a truthy value (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Fatal:
            raise
        except Exception as err:  # the check itself may fail while a server starts
            last = err
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last else ""
            raise AssertionError(f"{what}: not within {timeout:g}s{detail}")
        time.sleep(step)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Processes:
    """Starts processes with their output in log files; `close` stops every one still running."""

    logdir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = self.logdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if proc.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc, timeout=10)


def run(
    argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 120, what: str = ""
) -> str:
    """Run a command to completion (bounded); fail the test with its output when it fails."""
    try:
        done = subprocess.run(
            argv,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"{what or argv[0]} did not finish within {timeout}s") from err
    if done.returncode != 0:
        raise AssertionError(
            f"{what or ' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout + done.stderr


def loopback_block(size: int) -> list[str]:
    """`size` distinct loopback addresses 127.0.N.x, fresh for each call in this session."""
    block = 10 + next(_blocks) % 240
    return [f"127.0.{block}.{i}" for i in range(2, 2 + size)]
