"""Population sync by Bulk ``$export``: stream the NDJSON files into spooled chunks, fan out sync_chunk tasks.

The export's ``transactionTime`` is stored as the server's export watermark (the next ``_since``),
the manifest's error files are read and reported, and the NDJSON is never held whole in memory.
Every exported resource's patient is recorded in the owner index (:mod:`._owners`). A ``_since`` export
may list deleted resources (the manifest's ``deleted`` Bundles, Bulk Data 2.0): their patients are
re-synced over REST (the export holds only what changed, not the whole patient) and the twins of
deleted Patients are removed (:mod:`._deletions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson

from services.common.fhir import BulkExport
from services.common.logging import get_logger
from services.common.twin import SkippedResource

from ._clients import client_for
from ._deletions import bulk_deletions, remove_twins, resolve
from ._enqueue import enqueue_patients
from ._owners import remember_pairs
from ._runs import new_run_id
from ._runtime import Runtime
from ._spool import iter_chunk, spool_streams
from ._watermarks import set_watermark
from .names import SYNC_CHUNK

log = get_logger(__name__)

EXPORT_TYPES = ["Patient", "Observation", "Condition", "MedicationRequest", "DiagnosticReport", "DocumentReference"]


def export_population(
    rt: Runtime,
    app: Any,
    server: str,
    *,
    since: str | None,
    types: list[str] | None,
    group: str | None,
    system: bool = False,
) -> dict[str, object]:
    """Export, spool, enqueue; returns the run id, patient and task counts and the next ``_since``.

    The level is ``Group/[id]/$export`` with a group, ``$export`` (system) when asked, else
    ``Patient/$export``.
    """
    key = server.rstrip("/")
    client = client_for(rt.settings, key)
    bulk = BulkExport(client)
    level: Literal["system", "patient", "group"] = "group" if group else ("system" if system else "patient")
    _, manifest = bulk.run(level=level, group_id=group, since=since, types=types or EXPORT_TYPES)
    errors = bulk.error_messages(manifest)
    for message in errors[:20]:
        log.warning("bulk_export_error", detail=message[:200])
    run_id = new_run_id()
    patients_hint = sum(f.count or 0 for f in manifest.output if f.type == "Patient")
    streams = ((f"{f.type}#{index}", bulk.lines(manifest, f)) for index, f in enumerate(manifest.output))
    spooled = spool_streams(
        streams,
        rt.spool_dir / run_id,
        patients=patients_hint or 1000,
        patients_per_chunk=rt.settings.ingest_chunk_patients,
    )
    skipped = spooled.skipped + [SkippedResource(reference="export", reason=m) for m in errors]
    rt.runs.start(run_id, len(spooled.patients), skipped=skipped, ignored=spooled.ignored)
    remember_pairs(rt.redis, key, _chunk_owners(spooled.chunks))
    for chunk in spooled.chunks:
        app.send_task(SYNC_CHUNK, kwargs={"server": key, "source": {"kind": "bulk", "path": str(chunk), "run": run_id}})
    deletions = bulk_deletions(bulk, manifest)
    gone = resolve(rt, client, key, deletions)
    removed = remove_twins(rt, key, gone.deleted_patients)
    resync = (
        enqueue_patients(app, rt.runs, key, sorted(gone.resync), {"kind": "rest", "base_url": key})
        if gone.resync
        else None
    )
    set_watermark(rt.redis, key, manifest.transaction_time, kind="export")
    log.info(
        "export_fanned_out",
        run=run_id,
        patients=len(spooled.patients),
        tasks=len(spooled.chunks),
        deletions=len(deletions),
        twins_removed=removed,
    )
    return {
        "run": run_id,
        "patients": len(spooled.patients),
        "tasks": len(spooled.chunks),
        "read": spooled.read,
        "skipped": len(skipped),
        "errors": errors,
        "transaction_time": manifest.transaction_time,
        "deletions": len(deletions),
        "deletion_run": resync.run_id if resync else None,
        "resynced_for_deletions": len(gone.resync),
        "twins_removed": removed,
        "deletions_unresolved": len(gone.unresolved),
    }


def _chunk_owners(chunks: list[Path]) -> Iterator[tuple[str, str]]:
    """``(Type/id, patient id)`` of every spooled line (the spool already resolved each line's patient)."""
    for chunk in chunks:
        for patient_id, body in iter_chunk(chunk):
            if not patient_id:
                continue  # shared resources (Medication) belong to no one patient
            try:
                resource = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue  # the chunk sync reports the bad line
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str) and rid:
                yield f"{rtype}/{rid}", patient_id
