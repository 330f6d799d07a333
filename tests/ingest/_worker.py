"""A real Celery worker subprocess (``twinrx worker``) for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

TWINRX = Path(sys.executable).with_name("twinrx")


class Worker:
    """A ``twinrx worker`` process group with its log file."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self._offset = log.stat().st_size if log.exists() else 0  # only this run's lines count
        handle = log.open("ab")
        self.proc = subprocess.Popen(
            [str(TWINRX), "worker", f"--concurrency={concurrency}", "--loglevel=INFO"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker logs that it is ready (or fail with its log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self._text()[-3000:]}")
            if " ready." in self._text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self._text()[-3000:]}")

    def _text(self) -> str:
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            return handle.read().decode(errors="replace")

    def children(self) -> list[int]:
        """Pids of the pool processes."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL the whole process group (leader and pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL whatever is left."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def run_ingest(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``twinrx ingest <args>`` as a user runs it; the completed process (never raises on its exit code)."""
    return subprocess.run(
        [str(TWINRX), "ingest", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def worker_env(redis_url: str, work_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a test worker: the test Redis database, a private work folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINRX_")}
    env.update(
        TWINRX_REDIS_URL=redis_url,
        TWINRX_INGEST_WORK_DIR=str(work_dir),
        TWINRX_LOG_JSON="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def running_worker(env: dict[str, str], log: Path, concurrency: int = 1) -> Iterator[Worker]:
    """A ready worker, stopped on exit."""
    worker = Worker(env, log, concurrency)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
