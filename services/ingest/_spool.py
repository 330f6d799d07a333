"""Spool files: a population split into chunks of patients, one task per chunk.

A chunk file holds one resource per line, prefixed with its patient id and a tab
(``<patient>\\t<resource JSON>``; shared resources such as Medication have an empty prefix), so a
worker reads only its chunk and never re-resolves references. Compact Bulk NDJSON lines are routed
to a chunk without a full parse when their ``subject``/``patient`` reference is found by a byte
search; anything else is parsed with orjson.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from services.common.twin import SkippedResource

from ._build import INPUT_TYPES, OBSERVATION_CODES
from ._local import attach_shared, iter_file, source_files
from ._local_vcf import LOCAL_VCF, link_vcfs, vcf_files
from ._refs import patient_target, split_reference
from ._resource import Resource

_FAST_KEYS = (b'"subject":{"reference":"', b'"patient":{"reference":"')
_TYPE_PREFIX = b'{"resourceType":"'


# resourceType bytes -> str: an export has a handful of types, decoded once each (bounded: input is untrusted)
_TYPE_NAMES: dict[bytes, str] = {}


def fast_type(line: bytes) -> str | None:
    """The resourceType of a compact NDJSON line that starts with it (as Bulk exports write), else None."""
    if not line.startswith(_TYPE_PREFIX):
        return None
    end = line.find(b'"', len(_TYPE_PREFIX))
    if end < 0:
        return None
    raw = line[len(_TYPE_PREFIX) : end]
    name = _TYPE_NAMES.get(raw)
    if name is None:
        name = raw.decode()
        if len(_TYPE_NAMES) < 256:
            _TYPE_NAMES[raw] = name
    return name


@dataclass
class SpoolResult:
    """Chunk files written, patients routed, records read and the ones that could not be read."""

    chunks: list[Path] = field(default_factory=list)
    patients: set[str] = field(default_factory=set)
    read: int = 0
    ignored: int = 0
    skipped: list[SkippedResource] = field(default_factory=list)


_CODE_KEY = b'"code":{"coding":['
_CODE_VALUE = re.compile(rb'"code":"([^"]*)"')
_OBSERVATION_CODES_BYTES = frozenset(code.encode() for code in OBSERVATION_CODES)


def observation_may_matter(line: bytes) -> bool:
    """False only for a compact Observation line whose one ``code`` lists no code ingest reads.

    Lines with components, or whose ``code`` cannot be found by this byte search, are kept (parsed).
    """
    start = line.find(_CODE_KEY)
    if start < 0:
        return True
    start += len(_CODE_KEY)
    end = line.find(b"]", start)
    if end < 0:
        return True
    first = line.find(b'"code":"', start, end)
    if first < 0:
        return True
    first += 8
    stop = line.find(b'"', first, end)
    if stop < 0 or line.find(b'"code":"', stop, end) >= 0:  # several codings: check them all
        found = _CODE_VALUE.findall(line, start, end)
        if not found or any(code in _OBSERVATION_CODES_BYTES for code in found):
            return True
    elif line[first:stop] in _OBSERVATION_CODES_BYTES:
        return True
    # checked last: a full scan of the line, needed only for the Observations not kept by their code
    return b'"component"' in line


def fast_patient(line: bytes) -> str | None:
    """The patient id of a compact NDJSON line found by byte search, or None to fall back to parsing."""
    if b'"resourceType":"Patient"' in line[:64]:
        return None
    return _referenced_patient(line)


def _referenced_patient(line: bytes) -> str | None:
    """:func:`fast_patient` of a line already known not to be a Patient."""
    for key in _FAST_KEYS:
        start = line.find(key)
        if start < 0:
            continue
        start += len(key)
        end = line.find(b'"', start)
        if end < 0:
            return None
        if line.startswith(b"Patient/", start) and line.find(b"/", start + 8, end) < 0:
            return line[start + 8 : end].decode() or None  # the usual relative reference, no parsing
        target = split_reference(line[start:end].decode())
        if target is not None and target[0] in (None, "Patient"):
            return target[1]
        return None
    return None


def estimate_patients(files: Iterable[Path]) -> int:
    """Patients in a folder: lines of Patient NDJSON files plus one per JSON file (a Bundle per patient)."""
    total = 0
    for file in files:
        if file.suffix == ".json":
            total += 1
        elif file.name.startswith("Patient"):
            with file.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
    return max(total, 1)


# Buffer of spool files: FHIR lines are 1-4 kB, so the default 8 kB buffer cost a write (read) system
# call every few lines, a visible share of a bulk ingest's time.
IO_BUFFER = 256 * 1024


class ChunkWriter:
    def __init__(self, out_dir: Path, partitions: int, stack: ExitStack) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.paths = [out_dir / f"chunk-{i:05d}.ndjson" for i in range(partitions)]
        self._handles: list[BinaryIO] = [stack.enter_context(p.open("wb", buffering=IO_BUFFER)) for p in self.paths]
        # Created on the first shared line only: most parts have none, and every chunk's reader opens each
        # part's shared file it finds (a stale one from an earlier attempt of this part is removed).
        self._stack = stack
        self._shared_path = out_dir / "shared.ndjson"
        self._shared_path.unlink(missing_ok=True)
        self._shared: BinaryIO | None = None
        # patient id -> (its chunk's file, its line prefix): a patient has many lines, routed once
        self._routes: dict[str, tuple[BinaryIO, bytes]] = {}

    def write(self, patient_id: str | None, line: bytes) -> None:
        if patient_id is None:
            if self._shared is None:
                self._shared = self._stack.enter_context(self._shared_path.open("wb", buffering=IO_BUFFER))
            handle, prefix = self._shared, b"\t"
        else:
            route = self._routes.get(patient_id)
            if route is None:
                key = patient_id.encode()
                route = self._routes[patient_id] = (self._handles[zlib.crc32(key) % len(self._handles)], key + b"\t")
            handle, prefix = route
        handle.write(prefix)
        handle.write(line)  # no copy of a possibly large line; the newline is added only when missing
        if not line.endswith(b"\n"):
            handle.write(b"\n")


def spool_files(files: list[Path], out_dir: Path, *, patients_per_chunk: int, vcfs: Sequence[Path] = ()) -> SpoolResult:
    """Split ``files`` (NDJSON, Bundles, resources) into chunk files of about ``patients_per_chunk`` patients.

    ``vcfs`` (loose VCFs of the folder) are linked to the patients found and written as VCF records to
    their chunks; the ones that link to no patient are reported in ``skipped``.
    """
    partitions = max(1, math.ceil(estimate_patients(files) / patients_per_chunk))
    result = SpoolResult()
    with ExitStack() as stack:
        writer = ChunkWriter(out_dir, partitions, stack)
        for file in files:
            if file.suffix == ".ndjson":
                _spool_ndjson(file, writer, result)
            else:
                spool_json(file, writer, result)
        linked, unlinked = link_vcfs(vcfs, result.patients)
        result.skipped.extend(unlinked)
        for patient_id, markers in linked.items():
            for record in markers:
                writer.write(patient_id, orjson.dumps(record))
    result.chunks = [p for p in writer.paths if p.stat().st_size > 0]
    return result


def spool_json(file: Path, writer: ChunkWriter, result: SpoolResult) -> None:
    """Route the resources of one JSON file (Bundle or resource) to their chunks."""
    for item in iter_file(file):
        if isinstance(item, SkippedResource):
            result.skipped.append(item)
            continue
        resource, patient_id = item
        result.read += 1
        if resource["resourceType"] not in INPUT_TYPES:
            result.ignored += 1
            continue
        if patient_id is not None:
            result.patients.add(patient_id)
        writer.write(patient_id, orjson.dumps(resource))


def _spool_ndjson(file: Path, writer: ChunkWriter, result: SpoolResult) -> None:
    with file.open("rb", buffering=IO_BUFFER) as handle:
        spool_lines(file.name, handle, writer, result)


def spool_lines(name: str, lines: Iterable[bytes], writer: ChunkWriter, result: SpoolResult) -> None:
    for number, line in enumerate(lines, start=1):
        if len(line) < 64 and not line.strip():  # (blank lines are short: never copy a long one to check)
            continue
        rtype = fast_type(line)
        if (rtype is not None and rtype not in INPUT_TYPES) or (
            rtype == "Observation" and not observation_may_matter(line)
        ):
            result.read += 1  # read, and not needed for a twin: never parsed, never spooled
            result.ignored += 1
            continue
        if rtype == LOCAL_VCF:  # only a loose VCF file makes such a record, never a line of input
            reason = "not a FHIR resource type (VCF)"
            result.skipped.append(SkippedResource(reference=f"{name}:{number}", reason=reason))
            continue
        if rtype == "Patient":
            patient_id = None  # parsed below: its id is its own
        elif rtype is None:
            patient_id = fast_patient(line)
        else:
            patient_id = _referenced_patient(line)
        if patient_id is None:
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                result.skipped.append(
                    SkippedResource(reference=f"{name}:{number}", reason="invalid JSON line (truncated?)")
                )
                continue
            if (
                not isinstance(resource, dict)
                or not isinstance(resource.get("resourceType"), str)
                or resource["resourceType"] == LOCAL_VCF
            ):
                result.skipped.append(SkippedResource(reference=f"{name}:{number}", reason="not a resource"))
                continue
            patient_id = patient_target(resource)
        result.read += 1
        if patient_id is not None:
            result.patients.add(patient_id)
        writer.write(patient_id, line)


def spool_streams(
    streams: Iterable[tuple[str, Iterable[bytes]]], out_dir: Path, *, patients: int, patients_per_chunk: int
) -> SpoolResult:
    """Split NDJSON line streams (``(name, lines)``, e.g. Bulk export files) into chunk files."""
    partitions = max(1, math.ceil(max(patients, 1) / patients_per_chunk))
    result = SpoolResult()
    with ExitStack() as stack:
        writer = ChunkWriter(out_dir, partitions, stack)
        for name, lines in streams:
            spool_lines(name, lines, writer, result)
    result.chunks = [p for p in writer.paths if p.stat().st_size > 0]
    return result


def spool_directory(path: Path, out_dir: Path, *, patients_per_chunk: int) -> SpoolResult:
    """Split a local folder (FHIR files and loose VCFs) into chunk files (see :func:`spool_files`)."""
    return spool_files(source_files(path), out_dir, patients_per_chunk=patients_per_chunk, vcfs=vcf_files(path))


def iter_chunk(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(patient_id, raw JSON)`` of each line of a chunk file (patient id empty for shared lines)."""
    with path.open("rb", buffering=IO_BUFFER) as handle:
        for line in handle:
            patient, _, body = line.partition(b"\t")
            if body.strip():
                yield patient.decode(), body


def read_chunk(
    paths: Path | Sequence[Path], *, patient_id: str | None = None
) -> tuple[dict[str, list[Resource]], list[SkippedResource]]:
    """Resources of each patient in chunk file(s), with shared Medications attached; lines that fail to parse.

    A chunk split by several workers is several files (one per split part), each beside its part's
    ``shared.ndjson``. With ``patient_id`` only that patient's lines (and the shared ones) are parsed.
    """
    only = patient_id.encode() if patient_id is not None else None
    patients: dict[str, list[Resource]] = {}
    shared: dict[str, Resource] = {}
    skipped: list[SkippedResource] = []
    given = [paths] if isinstance(paths, Path) else list(paths)
    sources = list(given)
    for path in given:
        shared_file = path.with_name("shared.ndjson")
        if shared_file.exists() and shared_file not in sources:
            sources.append(shared_file)
    grouped: dict[bytes, list[Resource]] = {}
    loads = orjson.loads
    for source in sources:
        with source.open("rb", buffering=IO_BUFFER) as handle:
            for number, line in enumerate(handle, start=1):
                tab = line.find(b"\t")
                if tab < 0 or len(line) - tab < 3:
                    continue
                if only is not None and tab and (tab != len(only) or not line.startswith(only)):
                    continue  # another patient's line: its prefix says so, no need to parse it
                try:
                    resource = loads(memoryview(line)[tab + 1 :])  # no copy of the line
                except orjson.JSONDecodeError:
                    skipped.append(SkippedResource(reference=f"{source.name}:{number}", reason="invalid JSON line"))
                    continue
                if tab:
                    key = line[:tab]
                    bucket = grouped.get(key)
                    if bucket is None:
                        bucket = grouped[key] = []
                    bucket.append(resource)
                elif isinstance(resource, dict) and resource.get("resourceType") == "Medication":
                    shared[f"Medication/{resource.get('id')}"] = resource
    patients.update((key.decode(), resources) for key, resources in grouped.items())
    attach_shared(patients, shared)
    return patients, skipped


def chunk_patient(path: Path, patient_id: str) -> list[Resource]:
    """One patient's resources from a chunk file (the other patients' lines are not parsed)."""
    patients, _ = read_chunk(path, patient_id=patient_id)
    return patients.get(patient_id, [])
