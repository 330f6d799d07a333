"""Ingest through the real Celery workers: one ``sync_patient`` task per patient, then wait for the run.

The demo never computes a twin itself. It sends ``twinrx.ingest.sync_patient`` by name (via
``services.ingest.enqueue_patients``, which opens a run record in Redis) and follows the run's
outcomes with a progress bar until every patient has one. The wait has a deadline (a safety net with
a clear error) and fails fast if the worker process dies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.store import twin_key

from .errors import IngestTimeout

DEMO_SERVER = "local:demo"


@dataclass(frozen=True)
class IngestOutcome:
    """How the run ended: seconds taken, per-status counts, failures, records skipped."""

    seconds: float
    statuses: dict[str, int]
    failed: int
    skipped: int
    skip_reasons: dict[str, int]


def clear_twins(client: redis.Redis[bytes], patient_ids: Sequence[str], server: str = DEMO_SERVER) -> None:
    """Delete earlier demo twins of these patients, so every twin the run reports is fresh."""
    keys = [twin_key(server, pid) for pid in patient_ids]
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def stored_twins(client: redis.Redis[bytes], patient_ids: Sequence[str], server: str = DEMO_SERVER) -> list[str]:
    """The patients whose twin is in the store."""
    pipe = client.pipeline(transaction=False)
    for pid in patient_ids:
        pipe.hexists(twin_key(server, pid), "body")
    return [pid for pid, found in zip(patient_ids, pipe.execute(), strict=True) if found]


def ingest(
    settings: Settings,
    client: redis.Redis[bytes],
    broker_url: str,
    source_dir: Path,
    patient_ids: Sequence[str],
    *,
    timeout: float,
    check_alive: Callable[[], None],
    console: Console,
    server: str = DEMO_SERVER,
) -> IngestOutcome:
    """Enqueue one sync per patient and block until each has an outcome; raises :class:`IngestTimeout`."""
    from services.ingest import RunLog, enqueue_patients

    runs = RunLog(client)
    app = create_celery(settings, broker_url)
    try:
        run = enqueue_patients(app, runs, server, patient_ids, {"kind": "dir", "path": str(source_dir.resolve())})
    finally:
        app.close()
    started = time.monotonic()
    deadline = started + timeout
    columns = (TextColumn("[bold]ingesting twins"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("ingest", total=run.patients)
        while True:
            summary = runs.summary(run.run_id)
            progress.update(bar, completed=min(summary.done, run.patients))
            if summary.complete:
                break
            check_alive()
            if time.monotonic() > deadline:
                raise IngestTimeout(
                    f"{run.patients - summary.done} of {run.patients} patients had no ingest outcome after "
                    f"{timeout:.0f} s (see logs/worker.log in the report folder)"
                )
            time.sleep(0.2)
    return IngestOutcome(
        seconds=time.monotonic() - started,
        statuses=dict(summary.statuses),
        failed=summary.failed,
        skipped=summary.skipped,
        skip_reasons=dict(summary.skip_reasons),
    )
