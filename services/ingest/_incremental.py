"""Incremental sync (Celery beat): patients whose resources changed since the server's watermark.

For each server, every ingested type is searched with ``_lastUpdated=gt{watermark - overlap}``
(sorted by ``_lastUpdated``); the patients found are enqueued as ``sync_patient`` with a REST source.
The watermark then advances to the largest ``meta.lastUpdated`` the server reported (never the local
clock); the overlap window re-reads late commits and clock skew, and equal versions are no-ops.
Without a watermark the first run lists every Patient. Deletions are not seen by search.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.common.logging import get_logger

from ._clients import client_for
from ._enqueue import enqueue_patients
from ._refs import patient_target
from ._resource import last_updated
from ._runtime import Runtime
from ._watermarks import get_watermark, parse_instant, set_watermark

log = get_logger(__name__)

TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "DiagnosticReport", "DocumentReference")


def changed_patients(rt: Runtime, server: str) -> tuple[set[str], str | None]:
    """Patients with changes since the watermark (minus overlap), and the newest lastUpdated seen."""
    client = client_for(rt.settings, server)
    mark = get_watermark(rt.redis, server)
    newest: str | None = None
    patients: set[str] = set()
    types = TYPES if mark else ("Patient",)
    for resource_type in types:
        params: dict[str, str] = {"_sort": "_lastUpdated"}
        if mark:
            since = parse_instant(mark) - timedelta(minutes=rt.settings.sync_overlap_minutes)
            params["_lastUpdated"] = "gt" + since.isoformat().replace("+00:00", "Z")
        for resource in client.search(resource_type, params):
            patient_id = patient_target(resource)
            if patient_id is not None:
                patients.add(patient_id)
            stamp = last_updated(resource)
            if stamp and (newest is None or parse_instant(stamp) > parse_instant(newest)):
                newest = stamp
    return patients, newest


def incremental_sync(rt: Runtime, app: Any, server: str | None) -> dict[str, object]:
    """Enqueue syncs for changed patients of ``server`` (or every configured server)."""
    servers = (
        [server]
        if server
        else rt.settings.ingest_servers or ([rt.settings.fhir_base_url] if rt.settings.fhir_base_url else [])
    )
    report: dict[str, object] = {}
    for base in servers:
        key = base.rstrip("/")
        patients, newest = changed_patients(rt, key)
        run = enqueue_patients(app, rt.runs, key, sorted(patients), {"kind": "rest", "base_url": key})
        if newest is not None:
            set_watermark(rt.redis, key, newest)
        log.info("incremental_enqueued", patients=len(patients), run=run.run_id)
        report[key] = {"run": run.run_id, "patients": len(patients), "watermark": get_watermark(rt.redis, key)}
    return report
