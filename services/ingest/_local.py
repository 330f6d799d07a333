"""The local folder source: FHIR Bundles, single resources and Bulk NDJSON files, grouped by patient.

``scan_directory`` reads every ``*.json`` / ``*.ndjson`` file under a folder (recursively), resolves
each resource's patient (``subject`` / ``patient`` references, including Bundle-local ``urn:uuid:``
references) and returns the resources per patient. Unreadable lines and resources without an id are
reported in ``ScanResult.skipped`` and the rest still load. Shared resources that a patient's
resources point at (``Medication``) are attached to that patient's list. Loose ``*.vcf`` /
``*.vcf.gz`` / ``*.bcf`` files are linked to patients by sample or file name (:mod:`._local_vcf`) and
join their resources as VCF records; a VCF that links to no patient is reported in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from services.common.twin import SkippedResource

from ._local_vcf import LOCAL_VCF, link_vcfs, vcf_files
from ._refs import bundle_urls, patient_target, split_reference
from ._resource import Resource, reference_of, reference_target, version_of
from .errors import SourceError

_BUNDLE_TYPES = frozenset({"collection", "transaction", "batch", "searchset", "document", "history", "message"})
_IGNORED_FILES = frozenset({"log.ndjson"})  # a Bulk export's event log, not resources
# Reasons the scanner gives for a whole file (or NDJSON line) it could not read.
FILE_LEVEL_REASONS = ("unreadable JSON", "invalid JSON line", "not a FHIR resource", "Bundle.entry is not a list")


@dataclass
class ScanResult(Mapping[str, list[Resource]]):
    """Resources of each patient found in a folder (a read-only mapping ``patient_id -> resources``)."""

    patients: dict[str, list[Resource]] = field(default_factory=dict)
    shared: dict[str, Resource] = field(default_factory=dict)
    skipped: list[SkippedResource] = field(default_factory=list)
    read: int = 0
    files: int = 0
    vcfs: int = 0

    def __getitem__(self, patient_id: str) -> list[Resource]:
        return self.patients[patient_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.patients)

    def __len__(self) -> int:
        return len(self.patients)


def unreadable_files(folder: Path, skipped: Iterable[SkippedResource]) -> list[tuple[str, str]]:
    """``(path[:line], reason)`` of each file (or NDJSON line) in ``skipped`` that could not be read at all."""
    return [(_locate(folder, s.reference), s.reason) for s in skipped if s.reason.startswith(FILE_LEVEL_REASONS)]


def _locate(folder: Path, reference: str) -> str:
    """The path of a skipped file (the scanner reports bare names, maybe with ``:line``)."""
    name, _, line = reference.partition(":")
    if folder.is_file():
        path = str(folder)
    else:
        matches = sorted(folder.rglob(name.split("#", 1)[0]))
        path = str(matches[0]) if matches else str(folder / name)
    return f"{path}:{line}" if line else path


def source_files(path: Path) -> list[Path]:
    """The FHIR files of a folder (or the single file given), sorted for reproducible order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"no such folder: {path}")
    found = [
        p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".ndjson") and p.name not in _IGNORED_FILES
    ]
    return sorted(found)


def iter_file(path: Path) -> Iterator[tuple[Resource, str | None] | SkippedResource]:
    """``(resource, patient_id)`` for each resource in one file, or a SkippedResource for what cannot be read."""
    if path.suffix == ".ndjson":
        yield from _iter_ndjson(path)
        return
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        # where the parser stopped, so the user can open the file there (orjson counts from 1)
        reason = f"unreadable JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        yield SkippedResource(reference=path.name, reason=reason)
        return
    except OSError as exc:
        yield SkippedResource(reference=path.name, reason=f"unreadable JSON ({exc.strerror or exc.__class__.__name__})")
        return
    yield from _iter_document(document, path.name)


def _iter_ndjson(path: Path) -> Iterator[tuple[Resource, str | None] | SkippedResource]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield SkippedResource(reference=f"{path.name}:{number}", reason="invalid JSON line (truncated?)")
                continue
            yield from _iter_document(resource, f"{path.name}:{number}")


def _iter_document(document: object, where: str) -> Iterator[tuple[Resource, str | None] | SkippedResource]:
    if isinstance(document, list):
        for item in document:
            yield from _iter_document(item, where)
        return
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        yield SkippedResource(reference=where, reason="not a FHIR resource (no resourceType)")
        return
    if document["resourceType"] == LOCAL_VCF:  # only a loose VCF file makes such a record, never its content
        yield SkippedResource(reference=where, reason="not a FHIR resource type (VCF)")
        return
    if document["resourceType"] == "Bundle" and document.get("type") in _BUNDLE_TYPES:
        yield from _iter_bundle(document, where)
        return
    if not isinstance(document.get("id"), str) or not document["id"]:
        yield SkippedResource(reference=reference_of(document), reason="id missing")
        return
    yield document, patient_target(document)


def _iter_bundle(bundle: Resource, where: str) -> Iterator[tuple[Resource, str | None] | SkippedResource]:
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        yield SkippedResource(reference=where, reason="Bundle.entry is not a list")
        return
    urls = bundle_urls(entries)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            yield SkippedResource(reference=f"{where}#entry[{index}]", reason="entry without a resource")
            continue
        if not isinstance(resource.get("id"), str) or not resource["id"]:
            full_url = entry.get("fullUrl")
            if not isinstance(full_url, str) or full_url not in urls:
                yield SkippedResource(reference=f"{where}#entry[{index}]", reason="id missing")
                continue
            resource = {**resource, "id": urls[full_url][1]}
        if resource["resourceType"] in ("Bundle", LOCAL_VCF):
            yield from _iter_document(resource, f"{where}#entry[{index}]")
            continue
        yield resource, patient_target(resource, urls)


def scan_directory(path: Path | str) -> ScanResult:
    """Read a folder of Bundles / resources / NDJSON and group its resources by patient id."""
    folder = Path(path)
    result = ScanResult()
    seen: dict[str, dict[str, int]] = {}
    for file in source_files(folder):
        result.files += 1
        for item in iter_file(file):
            if isinstance(item, SkippedResource):
                result.skipped.append(item)
                continue
            resource, patient_id = item
            result.read += 1
            key = f"{resource['resourceType']}/{resource['id']}"
            if patient_id is None:
                result.shared[key] = resource
                continue
            bucket = result.patients.setdefault(patient_id, [])
            positions = seen.setdefault(patient_id, {})
            if key in positions:  # the same resource in two files: keep the newer version
                previous = bucket[positions[key]]
                if (version_of(resource) or "") >= (version_of(previous) or ""):
                    bucket[positions[key]] = resource
                continue
            positions[key] = len(bucket)
            bucket.append(resource)
    vcfs = vcf_files(folder)
    result.vcfs = len(vcfs)
    linked, unlinked = link_vcfs(vcfs, result.patients)
    for patient_id, markers in linked.items():
        result.patients[patient_id].extend(markers)
    result.skipped.extend(unlinked)
    attach_shared(result.patients, result.shared)
    return result


def attach_shared(patients: dict[str, list[Resource]], shared: dict[str, Resource]) -> None:
    """Give each patient the shared Medication resources its requests/statements reference."""
    if not shared:
        return
    for resources in patients.values():
        extra: dict[str, Resource] = {}
        for resource in resources:
            ref = reference_target(resource.get("medicationReference"))
            if ref is None:
                continue
            target = split_reference(ref)
            if target is None:
                continue
            rtype, rid = target
            key = f"{rtype or 'Medication'}/{rid}"
            if key in shared:
                extra[key] = shared[key]
        resources.extend(extra.values())
