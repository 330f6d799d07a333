"""Deletions on a FHIR server, turned into twin work: re-sync the owning patient, or remove a deleted Patient's twin.

Search never returns deleted resources, so they are read from where servers report them:

- REST history: ``GET [base]/[type]/_history?_since=...`` entries whose ``request.method`` is DELETE
  (``response.lastModified`` is the server's time of the deletion, when given);
- Bulk Data ``deleted`` files (a ``_since`` export): NDJSON of Bundles whose entries are DELETE requests.

A deletion names only ``Type/id``; its patient comes from the owner index (:mod:`._owners`), else from the
resource's own instance history (the versions before the deletion still carry the subject). A deleted
resource's patient is re-synced in full, so the twin is rebuilt from what the server holds now; a
deleted Patient's twin is removed, unless a read shows the Patient back (restored under its id). Both
are idempotent, so a deletion read twice (overlap window, task retry) changes nothing the second time.
Observations that become ``entered-in-error`` are updates, which the incremental search already sees;
the extractors ignore them when the twin is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
import redis

from services.common.errors import StoreError
from services.common.fhir import BulkExport, FhirClient, FhirHttpError, InvalidFhirId, Manifest
from services.common.logging import get_logger, patient_ref
from services.common.store import twin_key

from ._owners import owners_of, remember_pairs
from ._refs import patient_target, split_reference
from ._runtime import Runtime
from ._watermarks import parse_instant

log = get_logger(__name__)

# 4xx answers that mean "this server does not offer history here"; anything else is a real failure.
UNSUPPORTED = (400, 403, 404, 405, 501)


@dataclass(frozen=True)
class Deletion:
    """One deleted resource, as ``Type/id``, with the server's time of the deletion when it gave one."""

    resource_type: str
    id: str
    when: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.resource_type}/{self.id}"


@dataclass
class HistoryScan:
    """The deletions found in REST history, the newest deletion time, and the types without history."""

    deletions: list[Deletion] = field(default_factory=list)
    newest: str | None = None
    unsupported: list[str] = field(default_factory=list)


@dataclass
class Resolved:
    """What the deletions mean for twins."""

    resync: set[str] = field(default_factory=set)  # patients with a deleted resource
    deleted_patients: set[str] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)  # resource types whose patient could not be found


def deletion_of(entry: object) -> Deletion | None:
    """The deletion a history / batch Bundle entry records, or None for any other entry."""
    if not isinstance(entry, dict):
        return None
    request = entry.get("request")
    if not isinstance(request, dict) or str(request.get("method", "")).upper() != "DELETE":
        return None
    url = request.get("url") or entry.get("fullUrl")
    target = split_reference(url) if isinstance(url, str) else None
    if target is None or target[0] is None:
        return None
    response = entry.get("response")
    when = response.get("lastModified") if isinstance(response, dict) else None
    return Deletion(target[0], target[1], when if isinstance(when, str) and when else None)


def history_deletions(client: FhirClient, types: Iterable[str], since: str) -> HistoryScan:
    """Deletions of ``types`` since ``since`` from type-level history (a type without history is noted)."""
    scan = HistoryScan()
    cutoff = parse_instant(since)
    for resource_type in types:
        try:
            for bundle in client.pages(f"{resource_type}/_history", {"_since": since}):
                for entry in bundle.get("entry", []) or []:
                    found = deletion_of(entry)
                    if found is None or found.resource_type != resource_type:
                        continue
                    if found.when and parse_instant(found.when) < cutoff:
                        continue  # a server whose next links drop _since (sekmet 0.1.1) pages into older history
                    scan.deletions.append(found)
                    if found.when and (scan.newest is None or parse_instant(found.when) > parse_instant(scan.newest)):
                        scan.newest = found.when
        except FhirHttpError as exc:
            if exc.status not in UNSUPPORTED:
                raise
            scan.unsupported.append(resource_type)
            log.warning("history_unsupported", type=resource_type, status=exc.status)
    return scan


def bulk_deletions(bulk: BulkExport, manifest: Manifest) -> list[Deletion]:
    """Deletions listed in a Bulk export manifest's ``deleted`` files (Bundles of DELETE requests)."""
    found: list[Deletion] = []
    for file in manifest.deleted:
        for line in bulk.lines(manifest, file):
            try:
                bundle = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.warning("bulk_deleted_unreadable_line")
                continue
            entries = bundle.get("entry", []) if isinstance(bundle, dict) else []
            found.extend(d for e in entries or [] if (d := deletion_of(e)) is not None)
    return found


def _previous_owner(client: FhirClient, deletion: Deletion) -> str | None:
    """The patient of a deleted resource from its instance history (None if the server keeps none)."""
    try:
        for bundle in client.pages(f"{deletion.resource_type}/{deletion.id}/_history"):
            for entry in bundle.get("entry", []) or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and (owner := patient_target(resource)):
                    return owner
    except FhirHttpError as exc:
        if exc.status not in (*UNSUPPORTED, 410):
            raise
    return None


def resolve(rt: Runtime, client: FhirClient, server: str, deletions: list[Deletion]) -> Resolved:
    """Patients to re-sync and Patients deleted; owners found in history are added to the index."""
    resolved = Resolved()
    others: dict[str, Deletion] = {}
    for deletion in deletions:
        if deletion.resource_type == "Patient":
            resolved.deleted_patients.add(deletion.id)
        else:
            others[deletion.ref] = deletion
    known = owners_of(rt.redis, server, list(others))
    learned: list[tuple[str, str]] = []
    for ref, deletion in others.items():
        owner = known.get(ref) or _previous_owner(client, deletion)
        if owner is None:
            resolved.unresolved.append(deletion.resource_type)
            log.warning("deletion_owner_unknown", type=deletion.resource_type)
            continue
        if ref not in known:
            learned.append((ref, owner))
        resolved.resync.add(owner)
    remember_pairs(rt.redis, server, learned)
    for patient_id in sorted(resolved.deleted_patients):
        if _exists(client, patient_id):  # deleted, then restored (same id) since: re-read, keep the twin
            resolved.deleted_patients.discard(patient_id)
            resolved.resync.add(patient_id)
    resolved.resync -= resolved.deleted_patients  # a deleted Patient is removed, not re-read (that would 410)
    return resolved


def _exists(client: FhirClient, patient_id: str) -> bool:
    """Whether the server holds the Patient now; any answer but the resource confirms the deletion it reported."""
    try:
        client.read("Patient", patient_id)
    except (FhirHttpError, InvalidFhirId):  # an id no FHIR server can hold is no Patient of ours
        return False
    return True


def remove_twins(rt: Runtime, server: str, patient_ids: Iterable[str]) -> int:
    """Remove the twins of deleted Patients; returns how many existed (0 on a repeated run)."""
    removed = 0
    for patient_id in sorted(patient_ids):
        try:
            existed = rt.redis.delete(twin_key(server, patient_id))
        except redis.RedisError as exc:
            raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
        if existed:
            removed += 1
            log.info("twin_removed_patient_deleted", patient=patient_ref(server, patient_id))
    return removed
