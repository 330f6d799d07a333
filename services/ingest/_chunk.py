"""Sync a spooled chunk of patients with few Redis round trips.

The chunk's stored twins are read in one pipeline, every twin is built, and the changed ones are
written in one pipeline of compare-and-set calls (the twin store's own CAS script, so the version
check is the same as :meth:`TwinStore.save`). A patient whose write lost a race goes through the
ordinary one-patient path (:func:`sync_resources`: re-read, rebuild, bounded retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.errors import TwinRxError
from services.common.store import TwinStore
from services.common.twin import Twin

from ._build import build_twin
from ._resource import Resource
from ._sync import SyncOutcome, sync_resources


@dataclass
class _Pending:
    patient_id: str
    twin: Twin
    expected: int
    outcome: SyncOutcome


def _save_all(store: TwinStore, pending: list[_Pending]) -> list[bool]:
    """Compare-and-set every pending twin in one round trip; True where the write won."""
    saved = store.save_many([(item.twin, item.expected) for item in pending])
    return [twin is not None for twin in saved]


def sync_patients(
    store: TwinStore,
    server: str,
    patients: dict[str, list[Resource]],
    *,
    work_dir: Path,
) -> dict[str, SyncOutcome | TwinRxError]:
    """Build and save every patient's twin; the outcome per patient (or the error that stopped it)."""
    stored = store.get_many(server, list(patients))
    results: dict[str, SyncOutcome | TwinRxError] = {}
    pending: list[_Pending] = []
    for patient_id, resources in patients.items():
        previous = stored[patient_id]
        try:
            built = build_twin(server, patient_id, resources, work_dir=work_dir, previous=previous)
        except TwinRxError as exc:
            results[patient_id] = exc
            continue
        if not built.changed:
            results[patient_id] = SyncOutcome("unchanged", built.twin.version, built.read, built.skipped)
            continue
        expected = previous.version if previous else 0
        outcome = SyncOutcome("created" if previous is None else "updated", expected + 1, built.read, built.skipped)
        pending.append(_Pending(patient_id, built.twin, expected, outcome))
    won = _save_all(store, pending) if pending else []
    for item, ok in zip(pending, won, strict=True):
        if ok:
            results[item.patient_id] = item.outcome
            continue
        try:  # lost a race: the one-patient path re-reads, rebuilds and retries
            results[item.patient_id] = sync_resources(
                store, server, item.patient_id, patients[item.patient_id], work_dir=work_dir
            )
        except TwinRxError as exc:
            results[item.patient_id] = exc
    return results
