"""Ingest through the real Celery workers: enqueue one ``sync_patient`` per patient, wait for the twins.

The demo never computes a twin itself: it sends ``twinrx.ingest.sync_patient`` by name to the broker
and watches the twin store until every twin exists, showing a progress bar. The wait has a deadline
(a safety net with a clear error), and it fails fast if the worker process dies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.store import twin_key

from .errors import IngestTimeout

SYNC_TASK = "twinrx.ingest.sync_patient"
DEMO_SERVER = "local:demo"


def clear_twins(client: redis.Redis[bytes], patient_ids: Sequence[str], server: str = DEMO_SERVER) -> None:
    """Delete earlier demo twins of these patients, so the wait below sees only fresh ones."""
    keys = [twin_key(server, pid) for pid in patient_ids]
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def enqueue_syncs(
    settings: Settings, broker_url: str, source_dir: Path, patient_ids: Sequence[str], server: str = DEMO_SERVER
) -> None:
    """Send one ``sync_patient`` task per patient with the folder as its source."""
    app = create_celery(settings, broker_url)
    source = {"kind": "dir", "path": str(source_dir.resolve())}
    try:
        for pid in patient_ids:
            app.send_task(SYNC_TASK, kwargs={"server": server, "patient_id": pid, "source": source})
    finally:
        app.close()


def _stored(client: redis.Redis[bytes], server: str, patient_ids: Sequence[str]) -> list[bool]:
    pipe = client.pipeline(transaction=False)
    for pid in patient_ids:
        pipe.hexists(twin_key(server, pid), "body")
    return [bool(found) for found in pipe.execute()]


def wait_for_twins(
    client: redis.Redis[bytes],
    patient_ids: Sequence[str],
    *,
    timeout: float,
    check_alive: Callable[[], None],
    console: Console,
    server: str = DEMO_SERVER,
) -> float:
    """Block until every patient's twin is stored; returns the seconds it took.

    Raises :class:`IngestTimeout` naming how many twins are missing at the deadline; ``check_alive``
    raises if the worker died (so a crash is reported at once, not after the deadline).
    """
    started = time.monotonic()
    deadline = started + timeout
    pending = list(patient_ids)
    columns = (
        TextColumn("[bold]ingesting twins"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("ingest", total=len(pending))
        while pending:
            pending = [pid for pid, found in zip(pending, _stored(client, server, pending), strict=True) if not found]
            progress.update(task, completed=len(patient_ids) - len(pending))
            if not pending:
                break
            check_alive()
            if time.monotonic() > deadline:
                raise IngestTimeout(
                    f"{len(pending)} of {len(patient_ids)} twins were not stored within {timeout:.0f} s "
                    "(see logs/worker.log in the report folder)"
                )
            time.sleep(0.2)
    return time.monotonic() - started
