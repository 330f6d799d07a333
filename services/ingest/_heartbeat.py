"""Heartbeat files for the Kubernetes / compose probes of ``twinrx worker`` and ``twinrx beat``.

The worker touches ``TWINRX_WORKER_HEARTBEAT_FILE`` from a timer of its own event loop (a Celery
bootstep), so a worker whose consumer loop hangs stops beating; beat touches
``TWINRX_BEAT_HEARTBEAT_FILE`` on every scheduler tick (its loop wakes at least every heartbeat
interval). The probe (``docker/heartbeat-probe.sh``) fails when the file is older than its limit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler

from services.common.settings import get_settings


def touch(path: Path) -> None:
    """Create or refresh the heartbeat file (best effort: a probe failure is the signal, not an exception)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            os.utime(path, None)
    except OSError:
        return


class WorkerHeartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """Touch the worker heartbeat now and every interval, from the worker's own timer."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        settings = get_settings()
        self.path = settings.worker_heartbeat_file
        self.interval = float(settings.heartbeat_interval_seconds)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        touch(self.path)
        self.tref = worker.timer.call_repeatedly(self.interval, touch, (self.path,), priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()


class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]
    """The default persistent beat scheduler, touching the beat heartbeat on every tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        touch(get_settings().beat_heartbeat_file)
        return float(super().tick(*args, **kwargs))
