"""Parallel split of a large local export: the workers themselves route lines into chunks.

A folder is cut into parts (byte ranges of the NDJSON files, one part per JSON file); each part is a
``twinrx.ingest.split_part`` task that writes ``part-<n>/chunk-<k>.ndjson`` for the run's fixed
number of partitions. Completed parts are recorded in the run (idempotent per part); the task that
completes the last part fans out one ``sync_chunk`` per partition over every part's files for it. So
the split, the serial step of a local ingest, runs on all workers instead of the enqueuing process.

Loose VCFs are linked by the same rules as a small folder's (:func:`._local_vcf.link_vcfs`), but only
once every patient id is known: each part leaves its patient ids beside its chunks, and the task that
completes the last part links the folder's VCFs to them, writes the markers as one more part
(``part-vcf``, routed to the same partitions as the patients' other lines) before the fan-out, and
records the VCFs that link to no patient as that pseudo-part's skips.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from services.common.twin import SkippedResource

from ._local import source_files
from ._local_vcf import link_vcfs, vcf_files
from ._runtime import Runtime
from ._spool import IO_BUFFER, ChunkWriter, SpoolResult, estimate_patients, spool_json, spool_lines
from .names import SPLIT_PART, SYNC_CHUNK

PART_BYTES = 16 * 1024 * 1024
PATIENTS_FILE = "patients.json"  # a part's patient ids, for linking loose VCFs after the last part
VCF_PART = "part-vcf"  # matches the fan-out's ``part-*`` so the markers join their patients' chunks


def plan_parts(files: list[Path], part_bytes: int = PART_BYTES) -> list[dict[str, Any]]:
    """Parts of a folder: ``{"path", "start", "end"}`` byte ranges of NDJSON files, whole JSON files."""
    parts: list[dict[str, Any]] = []
    for file in files:
        size = file.stat().st_size
        if file.suffix != ".ndjson" or size <= part_bytes:
            parts.append({"path": str(file), "start": 0, "end": size})
            continue
        for start in range(0, size, part_bytes):
            parts.append({"path": str(file), "start": start, "end": min(size, start + part_bytes)})
    return parts


def _range_lines(path: Path, start: int, end: int) -> Any:
    """Lines whose first byte lies in ``[start, end)``."""
    with path.open("rb", buffering=IO_BUFFER) as handle:
        position = start
        if start > 0:
            handle.seek(start - 1)
            # finish the line that began before the range (it belongs to the previous part)
            position = start - 1 + len(handle.readline())
        for line in handle:
            if position >= end:
                return
            position += len(line)
            yield line


def split_part(part: dict[str, Any], out_dir: Path, partitions: int) -> SpoolResult:
    """Route one part's lines into ``out_dir/chunk-<k>.ndjson``."""
    path = Path(part["path"])
    result = SpoolResult()
    with ExitStack() as stack:
        writer = ChunkWriter(out_dir, partitions, stack)
        if path.suffix == ".ndjson":
            spool_lines(path.name, _range_lines(path, int(part["start"]), int(part["end"])), writer, result)
        else:
            spool_json(path, writer, result)
    result.chunks = [p for p in writer.paths if p.stat().st_size > 0]
    return result


def enqueue_split(
    app: Any,
    rt: Runtime,
    folder: Path,
    server: str,
    run_id: str,
    patients_per_chunk: int,
    *,
    part_bytes: int | None = None,
) -> int:
    """Start a split run: declare its parts and send one split task per part; returns the part count."""
    files = source_files(folder)
    partitions = max(1, math.ceil(estimate_patients(files) / patients_per_chunk))
    parts = plan_parts(files, part_bytes or PART_BYTES)
    rt.runs.start_split(run_id, len(parts))
    spool = rt.spool_dir / run_id
    for number, part in enumerate(parts):
        source = {
            "kind": "split",
            "part": number,
            "partitions": partitions,
            "spool": str(spool),
            "run": run_id,
            "folder": str(folder),
            "parts": len(parts),
            **part,
        }
        app.send_task(SPLIT_PART, kwargs={"server": server, "source": source})
    return len(parts)


def split_part_job(rt: Runtime, app: Any, server: str, source: dict[str, Any]) -> dict[str, object]:
    """Split one part, record it, and fan out the chunks if it was the last part."""
    spool = Path(source["spool"])
    partitions = int(source["partitions"])
    out_dir = spool / f"part-{int(source['part']):05d}"
    result = split_part(source, out_dir, partitions)
    (out_dir / PATIENTS_FILE).write_bytes(orjson.dumps(sorted(result.patients)))
    run_id = str(source["run"])
    last = rt.runs.part_done(
        run_id, int(source["part"]), sorted(result.patients), skipped=result.skipped, ignored=result.ignored
    )
    if last:
        if "folder" in source:  # (parts sent before loose VCFs were read in split runs carry no folder)
            unlinked = link_loose_vcfs(Path(source["folder"]), spool, partitions)
            if unlinked:  # recorded as one more part: the run summary counts its skips like a part's
                rt.runs.part_done(run_id, int(source["parts"]), [], skipped=unlinked, ignored=0)
        for k in range(partitions):
            paths = sorted(str(p) for p in spool.glob(f"part-*/chunk-{k:05d}.ndjson") if p.stat().st_size > 0)
            if paths:
                app.send_task(
                    SYNC_CHUNK, kwargs={"server": server, "source": {"kind": "bulk", "paths": paths, "run": run_id}}
                )
    return {"part": source["part"], "read": result.read, "ignored": result.ignored, "fanned_out": last}


def link_loose_vcfs(folder: Path, spool: Path, partitions: int) -> list[SkippedResource]:
    """Link the folder's loose VCFs to the patients every part found; returns the VCFs linked to none.

    Idempotent: a redelivered last part rewrites the same ``part-vcf`` files.
    """
    files = vcf_files(folder)
    if not files:
        return []
    patients: set[str] = set()
    for listing in spool.glob(f"part-*/{PATIENTS_FILE}"):
        patients.update(orjson.loads(listing.read_bytes()))
    linked, unlinked = link_vcfs(files, patients)
    with ExitStack() as stack:
        writer = ChunkWriter(spool / VCF_PART, partitions, stack)
        for patient_id in sorted(linked):
            for record in linked[patient_id]:
                writer.write(patient_id, orjson.dumps(record))
    return unlinked
