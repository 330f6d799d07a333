"""Incremental sync (Celery beat): patients whose resources changed since the server's watermark.

For each server, every ingested type is searched with ``_lastUpdated=gt{watermark - overlap}``
(sorted by ``_lastUpdated``); the patients found are enqueued as ``sync_patient`` with a REST source.
The watermark then advances to the largest ``meta.lastUpdated`` the server reported (never the local
clock); the overlap window re-reads late commits and clock skew, and equal versions are no-ops.
Without a watermark the first run lists every Patient.

Deletions are invisible to search, so from the second run on each type's ``_history`` since the same
point is read for DELETE entries (:mod:`._deletions`): the owning patient is re-synced with the others
and a deleted Patient's twin is removed. Every resource the search returns is recorded in the owner
index (:mod:`._owners`) on the way, so later deletions of it can be traced to its patient.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.common.logging import get_logger

from ._clients import client_for
from ._deletions import HistoryScan, history_deletions, remove_twins, resolve
from ._enqueue import enqueue_patients
from ._owners import owners_of, remember_pairs
from ._refs import patient_target
from ._resource import last_updated
from ._runtime import Runtime
from ._watermarks import get_watermark, parse_instant, set_watermark

log = get_logger(__name__)

TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "DiagnosticReport", "DocumentReference")


def _since(rt: Runtime, mark: str) -> str:
    """The watermark minus the overlap window, as a FHIR instant."""
    since = parse_instant(mark) - timedelta(minutes=rt.settings.sync_overlap_minutes)
    return since.isoformat().replace("+00:00", "Z")


def _newer(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if parse_instant(a) >= parse_instant(b) else b


def changed_patients(rt: Runtime, server: str) -> tuple[set[str], str | None]:
    """Patients with changes since the watermark (minus overlap), and the newest lastUpdated seen."""
    client = client_for(rt.settings, server)
    mark = get_watermark(rt.redis, server)
    newest: str | None = None
    patients: set[str] = set()
    owned: list[tuple[str, str]] = []
    types = TYPES if mark else ("Patient",)
    for resource_type in types:
        params: dict[str, str] = {"_sort": "_lastUpdated"}
        if mark:
            params["_lastUpdated"] = "gt" + _since(rt, mark)
        for resource in client.search(resource_type, params):
            patient_id = patient_target(resource)
            if patient_id is not None:
                patients.add(patient_id)
                owned.append((f"{resource_type}/{resource.get('id')}", patient_id))
            newest = _newer(newest, last_updated(resource))
    # A resource moved to another patient (a mis-filed result corrected) must also leave its old twin.
    before = owners_of(rt.redis, server, [ref for ref, _ in owned])
    patients.update(old for ref, new in owned if (old := before.get(ref)) is not None and old != new)
    remember_pairs(rt.redis, server, owned)
    return patients, newest


def deleted_since_watermark(rt: Runtime, server: str) -> HistoryScan:
    """DELETE entries of every ingested type since the watermark (minus overlap); none before the first run."""
    mark = get_watermark(rt.redis, server)
    if not mark:  # the first run reads every patient in full: nothing older can be stale
        return HistoryScan()
    return history_deletions(client_for(rt.settings, server), TYPES, _since(rt, mark))


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
        # The two reads are seconds apart; whatever changes between them is re-read next run (overlap).
        scan = deleted_since_watermark(rt, key)
        patients, newest = changed_patients(rt, key)
        gone = resolve(rt, client_for(rt.settings, key), key, scan.deletions)
        removed = remove_twins(rt, key, gone.deleted_patients)
        wanted = (patients | gone.resync) - gone.deleted_patients
        run = enqueue_patients(app, rt.runs, key, sorted(wanted), {"kind": "rest", "base_url": key})
        newest = _newer(newest, scan.newest)
        if newest is not None:
            set_watermark(rt.redis, key, newest)
        log.info(
            "incremental_enqueued",
            patients=len(wanted),
            deletions=len(scan.deletions),
            twins_removed=removed,
            run=run.run_id,
        )
        report[key] = {
            "run": run.run_id,
            "patients": len(wanted),
            "watermark": get_watermark(rt.redis, key),
            "deletions": len(scan.deletions),
            "resynced_for_deletions": len(gone.resync),
            "twins_removed": removed,
            "deletions_unresolved": len(gone.unresolved),
            "history_unsupported": scan.unsupported,
        }
    return report
