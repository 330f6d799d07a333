"""Loose VCFs of a local folder: ``*.vcf``, ``*.vcf.gz`` and ``*.bcf`` files beside the FHIR files.

A VCF found under the folder (recursively, like the JSON files) is genomic data of the folder's
patients, linked by these rules, in order:

1. sample names: every sample whose name equals a patient id of the folder becomes that patient's
   VCF input (single- or multi-sample files);
2. file name: otherwise a file whose name without ``.vcf`` / ``.vcf.gz`` / ``.bcf`` equals a patient id
   belongs to that patient, when its sample is unambiguous (one sample; else it is skipped with a reason).

A VCF that links to no patient, or whose header cannot be read, is reported as skipped (reference =
the file name, never its path or content), never attached to a guessed patient. Only the header is read
here (cyvcf2); calling happens in ``build_twin`` through ``services.pgx.profile``, as for VCFs attached to
DocumentReferences.

A linked VCF travels with the patient's resources as a marker record (``resourceType`` ``"VCF"``, id =
file name, ``meta.versionId`` = size and mtime, so the input fingerprint changes with the file). Markers
are made only here: parsed input (files, NDJSON lines, server responses) claiming that type is dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path

from services.common.twin import GenotypeInput, SkippedResource, SourceRef

from ._resource import Resource
from .errors import MalformedResource

LOCAL_VCF = "VCF"  # marker type of a loose VCF; not a FHIR resource type
VCF_SUFFIXES = (".vcf.gz", ".vcf", ".bcf")


def is_vcf_name(name: str) -> bool:
    """True for a ``.vcf`` / ``.vcf.gz`` / ``.bcf`` file name."""
    return name.lower().endswith(VCF_SUFFIXES)


def vcf_stem(name: str) -> str:
    """The file name without its VCF suffix (``p1.vcf.gz`` -> ``p1``)."""
    lower = name.lower()
    for suffix in VCF_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def vcf_files(path: Path) -> list[Path]:
    """The loose VCFs under a folder (recursively, sorted); none for a single file."""
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and is_vcf_name(p.name))


def sample_names(path: Path) -> list[str]:
    """Sample names of a VCF/BCF, from its header only; raises OSError / ValueError for an unreadable file."""
    from cyvcf2 import VCF

    reader = VCF(str(path), lazy=True)
    try:
        return [str(s) for s in reader.samples]
    finally:
        reader.close()


def marker(path: Path, sample: str | None) -> Resource:
    """The record that carries a linked VCF through scans, spool chunks and ``build_twin``."""
    stat = path.stat()
    when = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
    return {
        "resourceType": LOCAL_VCF,
        "id": path.name,
        "meta": {"versionId": f"{stat.st_size}-{stat.st_mtime_ns}"},
        "path": str(path.resolve()),
        "sample": sample,
        "date": when.isoformat(),
    }


def _skip(path: Path, reason: str) -> SkippedResource:
    return SkippedResource(reference=f"{LOCAL_VCF}/{path.name}", reason=reason)


def link_vcfs(
    files: Iterable[Path], patient_ids: Collection[str]
) -> tuple[dict[str, list[Resource]], list[SkippedResource]]:
    """Markers of each patient's VCFs by the link rules, and the files that link to no patient."""
    linked: dict[str, list[Resource]] = {}
    skipped: list[SkippedResource] = []
    for path in files:
        try:
            samples = sample_names(path)
        except (OSError, ValueError) as exc:
            skipped.append(
                _skip(path, f"VCF {path.name}: header unreadable ({exc.__class__.__name__}), not linked to a patient")
            )
            continue
        matched = [s for s in dict.fromkeys(samples) if s in patient_ids]
        if matched:
            for sample in matched:
                linked.setdefault(sample, []).append(marker(path, sample))
            continue
        stem = vcf_stem(path.name)
        if stem not in patient_ids:
            skipped.append(
                _skip(path, f"VCF {path.name} not linked: no sample or file name equals a patient id of the folder")
            )
            continue
        if len(samples) != 1:
            skipped.append(
                _skip(
                    path,
                    f"VCF {path.name} holds {len(samples)} samples, none named after the patient it is named after",
                )
            )
            continue
        linked.setdefault(stem, []).append(marker(path, samples[0]))
    return linked, skipped


def vcf_input(resource: Resource) -> GenotypeInput:
    """The GenotypeInput of a marker record; raises MalformedResource when it is not one."""
    where = f"{LOCAL_VCF}/{resource.get('id')}"
    path = resource.get("path")
    sample = resource.get("sample")
    if not isinstance(path, str) or Path(path).name != resource.get("id") or not is_vcf_name(path):
        raise MalformedResource(where, "VCF record without a matching file path")
    if sample is not None and not isinstance(sample, str):
        raise MalformedResource(where, "VCF record sample is not a string")
    if not Path(path).is_file():
        raise MalformedResource(where, "VCF file no longer exists")
    date = resource.get("date")
    when = datetime.fromisoformat(date) if isinstance(date, str) else None
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    source = SourceRef(
        resource_type=LOCAL_VCF, id=resource["id"], version=version if isinstance(version, str) else None, date=when
    )
    return GenotypeInput(kind="vcf", vcf_path=path, sample=sample, source=source)
