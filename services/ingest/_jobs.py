"""The work behind each Celery task, as plain functions of a :class:`Runtime` (testable without Celery).

Errors: transient ones (``TransientUpstreamError``, ``StoreError``) propagate for the task edge to
retry; permanent ones are recorded as the patient's ``failed`` outcome in the run and returned.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.common.errors import StoreError, TransientUpstreamError, TwinRxError
from services.common.logging import get_logger, patient_ref
from services.common.twin import SkippedResource

from ._chunk import sync_patients
from ._runtime import Runtime
from ._sources import PatientData, loader_for, validate_source
from ._spool import iter_chunk, read_chunk
from ._sync import normalise_server, sync_resources

log = get_logger(__name__)

RETRYABLE: tuple[type[Exception], ...] = (TransientUpstreamError, StoreError)


def _failed(reason: str) -> dict[str, object]:
    return {"status": "failed", "version": 0, "read": 0, "skipped": [], "reason": reason}


def rest_loader(rt: Runtime) -> Any:
    """The REST patient loader (imported lazily: it needs the FHIR client)."""
    from ._rest import rest_patient_loader

    return rest_patient_loader(rt.settings)


def sync_patient_job(rt: Runtime, server: str, patient_id: str, source: dict[str, Any]) -> dict[str, object]:
    """Sync one patient from ``source``; returns the outcome (also recorded in the source's run)."""
    server = normalise_server(server)
    tag = patient_ref(server, patient_id)
    run_id = source.get("run") if isinstance(source, dict) else None
    try:
        checked = validate_source(source)
        load = loader_for(checked, patient_id, rest_loader(rt) if checked["kind"] == "rest" else None)
        data: list[PatientData] = []

        def resources() -> list[dict[str, Any]]:
            data[:] = [load()]
            return data[0].resources

        def fetch(url: str) -> bytes:
            if not data or data[0].fetch is None:
                raise TransientUpstreamError("attachment fetcher unavailable")
            return data[0].fetch(url)

        outcome = sync_resources(rt.store, server, patient_id, resources, work_dir=rt.vcf_dir, fetch=fetch)
    except RETRYABLE:
        raise
    except TwinRxError as exc:
        log.warning("sync_failed", patient=tag, error=exc.__class__.__name__, reason=exc.message)
        result = _failed(exc.message)
        if isinstance(run_id, str):
            rt.runs.record(run_id, patient_id, result)
        return result
    log.info("sync_done", patient=tag, status=outcome.status, read=outcome.read, skipped=len(outcome.skipped))
    result = outcome.as_dict()
    if isinstance(run_id, str):
        rt.runs.record(run_id, patient_id, result)
    return result


def wants_write_back(rt: Runtime, source: object, result: dict[str, object]) -> bool:
    """Write back when enabled, the twin changed, and it came from a FHIR server (not a local folder)."""
    return (
        rt.settings.write_back
        and result.get("status") in ("created", "updated")
        and isinstance(source, dict)
        and source.get("kind") == "rest"
    )


def record_failure(rt: Runtime, source: object, patient_id: str | None, reason: str) -> None:
    """Record a failure that ended the retries, so a waiting run does not hang.

    A chunk records every patient it holds as failed; a split part is recorded as done with the
    failure as its skip reason, so the run still fans out (without that part's records).
    """
    run_id = source.get("run") if isinstance(source, dict) else None
    if not isinstance(run_id, str) or not isinstance(source, dict):
        return
    try:
        if patient_id is not None:
            rt.runs.record(run_id, patient_id, _failed(reason))
        elif source.get("kind") == "bulk":
            files = [Path(p) for p in source.get("paths") or [source.get("path")] if p]
            patients = {pid for f in files if f.exists() for pid, _ in iter_chunk(f) if pid}
            rt.runs.record_many(run_id, {pid: _failed(reason) for pid in patients})
        elif source.get("kind") == "split":
            part = SkippedResource(reference=str(source.get("path")), reason=f"split part failed: {reason}")
            rt.runs.part_done(run_id, int(source["part"]), [], skipped=[part], ignored=0)
    except Exception as exc:  # recording is best effort: the task's own failure is what gets reported
        log.warning("record_failure_failed", error=exc.__class__.__name__)


def sync_chunk_job(rt: Runtime, server: str, source: dict[str, Any]) -> dict[str, object]:
    """Sync every patient of a spooled chunk; returns counts by status."""
    server = normalise_server(server)
    checked = validate_source(source)
    with paused_gc():  # parsed FHIR is acyclic: the cyclic collector only costs time here
        return _sync_chunk(rt, server, checked)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Suspend the cyclic garbage collector (reference counting still frees everything acyclic)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sync_chunk(rt: Runtime, server: str, checked: dict[str, Any]) -> dict[str, object]:
    run_id = checked.get("run")
    files = [Path(p) for p in checked["paths"]] if "paths" in checked else [Path(checked["path"])]
    patients, bad_lines = read_chunk(files)
    counts: dict[str, int] = {}
    outcomes: dict[str, dict[str, object]] = {}
    for patient_id, outcome in sync_patients(rt.store, server, patients, work_dir=rt.vcf_dir).items():
        if isinstance(outcome, RETRYABLE):
            raise outcome
        if isinstance(outcome, TwinRxError):
            log.warning("sync_failed", patient=patient_ref(server, patient_id), error=outcome.__class__.__name__)
            result = _failed(outcome.message)
        else:
            result = outcome.as_dict()
        counts[str(result["status"])] = counts.get(str(result["status"]), 0) + 1
        outcomes[patient_id] = result
    if isinstance(run_id, str):  # recorded once the chunk is done: a redelivered chunk records it all again
        rt.runs.record_many(run_id, outcomes)
    if bad_lines:
        counts["bad_lines"] = len(bad_lines)
    log.info("chunk_done", chunk=files[0].name, **counts)
    return {"patients": len(patients), **counts}


def split_part_job(rt: Runtime, app: Any, server: str, source: dict[str, Any]) -> dict[str, object]:
    """Split one part of a large local folder into chunks (the last part fans the chunks out)."""
    from ._split import split_part_job as run

    return run(rt, app, normalise_server(server), source)


def export_population_job(
    rt: Runtime, app: Any, server: str, *, since: str | None, types: list[str] | None, group: str | None
) -> dict[str, object]:
    """Bulk $export of a population, spooled into chunks and fanned out."""
    from ._population import export_population

    return export_population(rt, app, server, since=since, types=types, group=group)


def incremental_job(rt: Runtime, app: Any, server: str | None) -> dict[str, object]:
    """Incremental `_lastUpdated` sync of one server (or every configured server)."""
    from ._incremental import incremental_sync

    return incremental_sync(rt, app, server)


def write_back_job(rt: Runtime, server: str, patient_id: str) -> dict[str, object]:
    """Write the twin's results back to the EHR."""
    from ._writeback import write_back_patient

    return write_back_patient(rt, server, patient_id)
