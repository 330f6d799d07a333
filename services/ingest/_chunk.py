"""Sync a spooled chunk of patients with few Redis round trips.

The chunk's stored twins are read in one pipeline, every twin is built, and the changed ones are
written in one pipeline of compare-and-set calls (the twin store's own CAS script, so the version
check is the same as :meth:`TwinStore.save`). A patient whose write lost a race goes through the
ordinary one-patient path (:func:`sync_resources`: re-read, rebuild, bounded retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis

from services.common.errors import StoreError, TwinRxError
from services.common.store import TwinStore, twin_key
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


def prefetch_twins(client: redis.Redis[bytes], server: str, patient_ids: list[str]) -> dict[str, Twin | None]:
    """The stored twins of many patients in one round trip."""
    try:
        pipe = client.pipeline(transaction=False)
        for patient_id in patient_ids:
            pipe.hget(twin_key(server, patient_id), "body")
        bodies = pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
    return {p: Twin.model_validate_json(b) if b else None for p, b in zip(patient_ids, bodies, strict=True)}


def _save_all(store: TwinStore, client: redis.Redis[bytes], pending: list[_Pending]) -> list[bool]:
    """Compare-and-set every pending twin in one pipeline; True where the write won."""
    now = datetime.now(UTC)
    pipe = client.pipeline(transaction=False)
    script = store._cas  # the store's registered CAS script (a pipeline-capable redis Script)
    for item in pending:
        new = item.twin.model_copy(update={"version": item.expected + 1, "updated_at": now})
        script(
            keys=[twin_key(new.server, new.patient_id)],
            args=[str(item.expected), new.model_dump_json(), str(new.version)],
            client=pipe,
        )
    try:
        results = pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
    return [result == b"OK" for result in results]


def sync_patients(
    store: TwinStore,
    client: redis.Redis[bytes],
    server: str,
    patients: dict[str, list[Resource]],
    *,
    work_dir: Path,
) -> dict[str, SyncOutcome | TwinRxError]:
    """Build and save every patient's twin; the outcome per patient (or the error that stopped it)."""
    stored = prefetch_twins(client, server, list(patients))
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
    won = _save_all(store, client, pending) if pending else []
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
