"""Population sync by Bulk ``$export``: stream the NDJSON files into spooled chunks, fan out sync_chunk tasks.

The export's ``transactionTime`` is stored as the server's export watermark (the next ``_since``),
the manifest's error files are read and reported, and the NDJSON is never held whole in memory.
Every exported resource's patient is recorded in the owner index (:mod:`._owners`). A ``_since`` export
holds only what changed since then, not whole patients, so its patients are re-read in full over REST
(``sync_patient``) instead of being built from the export's lines. It may also list deleted resources
(the manifest's ``deleted`` Bundles, Bulk Data 2.0): their patients are re-read the same way and the
twins of deleted Patients are removed (:mod:`._deletions`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson

from services.common.fhir import BulkExport
from services.common.logging import get_logger
from services.common.twin import SkippedResource

from ._clients import client_for
from ._deletions import bulk_deletions, remove_twins, resolve
from ._owners import remember_pairs
from ._runs import new_run_id
from ._runtime import Runtime
from ._spool import iter_chunk, spool_streams
from ._watermarks import set_watermark
from .names import SYNC_CHUNK, SYNC_PATIENT

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
    remember_pairs(rt.redis, key, _chunk_owners(spooled.chunks))
    deletions = bulk_deletions(bulk, manifest)
    gone = resolve(rt, client, key, deletions)
    removed = remove_twins(rt, key, gone.deleted_patients)
    if since is None:  # a full export holds each patient whole: its chunks build the twins
        chunks = spooled.chunks
        rest_ids = sorted(gone.resync - gone.deleted_patients - spooled.patients)
        expected = len(spooled.patients) + len(rest_ids)
    else:  # a _since export holds only what changed: a twin built from it would lose everything else
        chunks = []
        rest_ids = sorted((spooled.patients | gone.resync) - gone.deleted_patients)
        expected = len(rest_ids)
        shutil.rmtree(rt.spool_dir / run_id, ignore_errors=True)  # its ids and owners are read; no task needs it
    rt.runs.start(run_id, expected, skipped=skipped, ignored=spooled.ignored)
    for chunk in chunks:
        app.send_task(SYNC_CHUNK, kwargs={"server": key, "source": {"kind": "bulk", "path": str(chunk), "run": run_id}})
    for patient_id in rest_ids:
        source = {"kind": "rest", "base_url": key, "run": run_id}
        app.send_task(SYNC_PATIENT, kwargs={"server": key, "patient_id": patient_id, "source": source})
    set_watermark(rt.redis, key, manifest.transaction_time, kind="export")
    log.info(
        "export_fanned_out",
        run=run_id,
        patients=expected,
        tasks=len(chunks) + len(rest_ids),
        deletions=len(deletions),
        twins_removed=removed,
    )
    return {
        "run": run_id,
        "patients": expected,
        "tasks": len(chunks) + len(rest_ids),
        "read": spooled.read,
        "skipped": len(skipped),
        "errors": errors,
        "transaction_time": manifest.transaction_time,
        "deletions": len(deletions),
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
