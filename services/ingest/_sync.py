"""Sync one patient: read its resources from a source, build the twin, save it with compare-and-set.

The save names the version it read; when another writer won the race the twin is rebuilt from the
newer stored state (bounded attempts, then :class:`VersionConflict` for the task to retry). An
unchanged input fingerprint is a no-op, so a redelivered task (worker killed mid-task) ends with the
same twin it would have written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from services.common.errors import VersionConflict
from services.common.store import TwinStore
from services.common.twin import SkippedResource, Twin

from ._attachments import Fetcher
from ._build import build_twin
from ._resource import Resource

Status = Literal["created", "updated", "unchanged"]
_CAS_ATTEMPTS = 5


@dataclass
class SyncOutcome:
    """What one patient's sync did (no PHI: counts, status and skipped references only)."""

    status: Status
    version: int
    read: int
    skipped: list[SkippedResource] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """A JSON-able summary (task return value, run records)."""
        return {
            "status": self.status,
            "version": self.version,
            "read": self.read,
            "skipped": [s.model_dump() for s in self.skipped],
        }


def normalise_server(server: str) -> str:
    """The twin-store server key: trailing slashes removed (the CDS service uses the same rule)."""
    return server.rstrip("/") or server


def sync_resources(
    store: TwinStore,
    server: str,
    patient_id: str,
    resources: Iterable[Resource] | Callable[[], Iterable[Resource]],
    *,
    work_dir: Path | None = None,
    fetch: Fetcher | None = None,
    on_saved: Callable[[Twin], None] | None = None,
) -> SyncOutcome:
    """Build and save one patient's twin; ``resources`` may be a loader called once per attempt."""
    server = normalise_server(server)
    loaded: list[Resource] | None = None
    for _ in range(_CAS_ATTEMPTS):
        if loaded is None or callable(resources):
            loaded = list(resources() if callable(resources) else resources)
        previous = store.get(server, patient_id)
        result = build_twin(server, patient_id, loaded, work_dir=work_dir, previous=previous, fetch=fetch)
        if not result.changed:
            return SyncOutcome("unchanged", result.twin.version, result.read, result.skipped)
        expected = previous.version if previous else 0
        try:
            saved = store.save(result.twin, expected_version=expected)
        except VersionConflict:
            continue
        if on_saved is not None:
            on_saved(saved)
        return SyncOutcome("created" if previous is None else "updated", saved.version, result.read, result.skipped)
    raise VersionConflict(f"twin kept changing during {_CAS_ATTEMPTS} attempts")
