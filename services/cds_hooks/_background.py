"""Fire-and-forget work that must not delay the answer to a hook call (broker publish, card registry).

A small thread pool; at most ``max_pending`` jobs wait (beyond that new jobs are dropped and logged, so a
broker outage cannot grow memory without bound). Failures are logged by kind, never raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from services.common.logging import get_logger

log = get_logger(__name__)


class Background:
    """Runs callables off the request path."""

    def __init__(self, *, workers: int = 2, max_pending: int = 1000) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cds-background")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue ``fn(*args)``; False (and a log line) if too much work is already waiting."""
        if not self._slots.acquire(blocking=False):
            log.warning("background_dropped", job=name)
            return False
        future = self._pool.submit(self._run, name, fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return True

    def _run(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # logged by kind; the hook answer never depends on it
            log.warning("background_failed", job=name, error=exc.__class__.__name__)
        finally:
            self._slots.release()

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for queued work (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)
