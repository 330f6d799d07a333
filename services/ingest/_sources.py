"""Sources behind one interface: a source description (the task's ``source`` kwarg) -> a patient's resources.

Kinds::

    {"kind": "dir",  "path": "/data/fhir"}                 local Bundles / resources / NDJSON / VCFs (cached scan)
    {"kind": "rest", "base_url": "https://ehr/fhir"}       FHIR REST searches for one patient
    {"kind": "bulk", "path": "/spool/chunk-0007.ndjson"}   a spooled chunk of a Bulk export (or a local NDJSON split)
    {"kind": "bulk", "paths": [...]}                       the same chunk written by several split parts

Any kind may carry ``"run": "<id>"`` so the task records its outcome in that ingest run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._attachments import Fetcher
from ._local import ScanResult, scan_directory, source_files
from ._local_vcf import vcf_files
from ._resource import Resource
from .errors import PatientNotFound, SourceError

KINDS = ("dir", "rest", "bulk")


@dataclass(frozen=True)
class PatientData:
    """A patient's resources and how to fetch attachment URLs for it."""

    resources: list[Resource]
    fetch: Fetcher | None = None


def validate_source(source: object) -> dict[str, Any]:
    """``source`` as a dict of a known kind with its required field; raises SourceError otherwise."""
    if not isinstance(source, dict) or source.get("kind") not in KINDS:
        raise SourceError(f"source must be a dict with kind one of {', '.join(KINDS)}")
    if source["kind"] == "bulk" and isinstance(source.get("paths"), list) and source["paths"]:
        return source  # a chunk split by several workers: one file per split part
    needed = "base_url" if source["kind"] == "rest" else "path"
    if not isinstance(source.get(needed), str) or not source[needed]:
        raise SourceError(f"{source['kind']} source needs '{needed}'")
    return source


_scan_lock = threading.Lock()
_scan_cache: dict[str, tuple[tuple[tuple[str, int, int], ...], ScanResult]] = {}


def _signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    files = source_files(path) + vcf_files(path)
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def cached_scan(path: Path) -> ScanResult:
    """``scan_directory`` memoised per process until any file under ``path`` changes."""
    key = str(path.resolve())
    signature = _signature(path)
    with _scan_lock:
        hit = _scan_cache.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1]
    result = scan_directory(path)
    with _scan_lock:
        _scan_cache.clear()  # keep one folder per process: workers serve one deployment's data
        _scan_cache[key] = (signature, result)
    return result


def dir_patient(path: str, patient_id: str) -> PatientData:
    """A patient's resources from a local folder."""
    scan = cached_scan(Path(path))
    if patient_id not in scan:
        raise PatientNotFound(f"no resources for the patient in {Path(path).name}")
    return PatientData(resources=list(scan[patient_id]))


def loader_for(
    source: dict[str, Any], patient_id: str, rest_loader: Callable[[str, str], PatientData] | None = None
) -> Callable[[], PatientData]:
    """A zero-argument loader of the patient's data for a validated source."""
    kind = source["kind"]
    if kind == "dir":
        return lambda: dir_patient(source["path"], patient_id)
    if kind == "bulk":
        from ._spool import chunk_patient

        return lambda: PatientData(resources=chunk_patient(Path(source["path"]), patient_id))
    if rest_loader is None:
        raise SourceError("REST source is not available in this process")
    return lambda: rest_loader(source["base_url"], patient_id)
