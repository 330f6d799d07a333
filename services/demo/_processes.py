"""Child processes the demo runs (Celery worker, CDS Hooks API), each in its own process group.

A child is started with ``start_new_session=True`` so a terminal Ctrl-C reaches only the demo, which
then stops its children in order: SIGTERM to the leader (a Celery warm shutdown, a uvicorn graceful
stop), a bounded wait, then SIGKILL to the whole group so no grandchild (a prefork pool process)
outlives the demo. Output goes to a log file, never to the demo's terminal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import ServiceStartError


class ManagedProcess:
    """One child process with its own process group and a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The leader's pid once started."""
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start the child in a new session (its own process group)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # one run per log file
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file = self.log_path.with_suffix(".pid")
        tmp = pid_file.with_suffix(".pid.tmp")
        tmp.write_text(f"{self._proc.pid}\n")
        tmp.replace(pid_file)  # atomic: a pid file that exists is complete

    def returncode(self) -> int | None:
        """The exit code if the child has exited, else None."""
        return None if self._proc is None else self._proc.poll()

    def check_alive(self) -> None:
        """Raise :class:`ServiceStartError` (with the log's last lines) if the child has exited."""
        code = self.returncode()
        if code is not None:
            raise ServiceStartError(
                f"the {self.name} process exited with code {code}; last log lines:\n{self.tail()}",
                location=str(self.log_path),
            )

    def tail(self, lines: int = 12) -> str:
        """The last lines of the child's log (for error messages)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM the leader, wait up to ``grace_seconds``, then SIGKILL the whole process group."""
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # leader of its own session: pgid == pid
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_seconds)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def twinrx_command() -> list[str]:
    """argv prefix that runs this installation's ``twinrx`` CLI (works without the script on PATH)."""
    return [sys.executable, "-m", "services.cli"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt while active, so ``finally`` blocks stop children."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, _raise)
    except ValueError:  # not the main thread (e.g. a test runner thread): nothing to install
        previous.clear()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass (a safety net, not a timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
