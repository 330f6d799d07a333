"""Enqueue ingest work and follow it: the functions behind ``twinrx ingest`` (and the demo).

``enqueue_directory`` spools a local folder into chunks of patients and sends one
``twinrx.ingest.sync_chunk`` per chunk; ``enqueue_patients`` sends one ``twinrx.ingest.sync_patient`` per
patient. Both start a run record, so ``RunLog.wait`` (or :func:`wait_for_run`) can follow progress
without Celery result backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.twin import SkippedResource

from ._local import source_files
from ._runs import RunLog, RunSummary, new_run_id
from ._runtime import Runtime
from ._split import enqueue_split
from ._spool import spool_directory
from ._sync import normalise_server
from .names import SYNC_CHUNK, SYNC_PATIENT

PARALLEL_SPLIT_BYTES = 64 * 1024 * 1024


@dataclass
class EnqueuedRun:
    """A run that was sent to the workers."""

    run_id: str
    server: str
    patients: int  # 0 until the workers have split a parallel-split run
    tasks: int
    spool_dir: Path | None = None
    skipped: list[SkippedResource] = field(default_factory=list)


def local_server(path: Path | str) -> str:
    """Default twin-store server key of a local folder: ``local:<folder name>``."""
    return f"local:{Path(path).resolve().name}"


def enqueue_directory(
    app: Any,
    rt: Runtime,
    path: Path | str,
    *,
    server: str | None = None,
    patients_per_chunk: int | None = None,
    parallel_split: bool | None = None,
    split_part_bytes: int | None = None,
) -> EnqueuedRun:
    """Send a local folder to the workers as chunks of patients; returns the run.

    Small folders are split here and one sync_chunk task goes per chunk. Large ones (``parallel_split``,
    by default from 64 MB of files) are split by the workers themselves (``split_part`` tasks), so the
    serial step is spread too; the run's patient count is then known once the split is done.
    """
    folder = Path(path)
    key = normalise_server(server or local_server(folder))
    run_id = new_run_id()
    spool = rt.spool_dir / run_id
    per_chunk = patients_per_chunk or rt.settings.ingest_chunk_patients
    if parallel_split is None:
        parallel_split = sum(f.stat().st_size for f in source_files(folder)) >= PARALLEL_SPLIT_BYTES
    if parallel_split:
        # Loose VCFs are linked by the workers once the split is done (unlinked ones land in the run's skips).
        parts = enqueue_split(app, rt, folder, key, run_id, per_chunk, part_bytes=split_part_bytes)
        return EnqueuedRun(run_id, key, 0, parts, spool)
    result = spool_directory(folder, spool, patients_per_chunk=per_chunk)
    rt.runs.start(run_id, len(result.patients), skipped=result.skipped, ignored=result.ignored)
    for chunk in result.chunks:
        app.send_task(SYNC_CHUNK, kwargs={"server": key, "source": {"kind": "bulk", "path": str(chunk), "run": run_id}})
    return EnqueuedRun(run_id, key, len(result.patients), len(result.chunks), spool, result.skipped)


def enqueue_patients(
    app: Any, runs: RunLog, server: str, patient_ids: Iterable[str], source: dict[str, Any]
) -> EnqueuedRun:
    """Send one sync_patient task per patient with ``source`` (its ``run`` is set here)."""
    ids = list(dict.fromkeys(patient_ids))
    key = normalise_server(server)
    run_id = new_run_id()
    runs.start(run_id, len(ids))
    for patient_id in ids:
        app.send_task(
            SYNC_PATIENT, kwargs={"server": key, "patient_id": patient_id, "source": {**source, "run": run_id}}
        )
    return EnqueuedRun(run_id, key, len(ids), len(ids))


def wait_for_run(runs: RunLog, run: EnqueuedRun, *, timeout: float) -> RunSummary:
    """Wait until every patient of ``run`` has an outcome (or ``timeout`` seconds)."""
    return runs.wait(run.run_id, timeout=timeout)
