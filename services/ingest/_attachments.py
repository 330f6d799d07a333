"""VCF and outside-call attachments on DocumentReference (``content.attachment``) and DiagnosticReport
(``presentedForm``).

Inline ``data`` is base64-decoded; a ``url`` is fetched through the caller's fetcher (which enforces
"same FHIR server or an allow-listed host"). A VCF is written under the work folder with a
content-addressed name, so a rebuild reuses it; a tab-separated outside call (PharmCAT format:
``gene<TAB>diplotype[<TAB>phenotype]``) becomes diplotype inputs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from services.common.errors import TransientUpstreamError, UpstreamError
from services.common.twin import GenotypeInput, SourceRef
from services.pgx.observations import normalise_alleles

from ._resource import Resource, effective_time, reference_of, source_ref
from .errors import MalformedResource

Fetcher = Callable[[str], bytes]

_VCF_TYPES = frozenset({"text/vcf", "text/x-vcf", "application/vcf", "text/vcf+gzip", "application/x-vcf"})
_TSV_TYPES = frozenset({"text/tab-separated-values", "text/tsv"})
_GZIP_MAGIC = b"\x1f\x8b"


def _attachments(resource: Resource) -> Iterator[dict[str, object]]:
    if resource["resourceType"] == "DocumentReference":
        for content in resource.get("content", []) or []:
            attachment = content.get("attachment") if isinstance(content, dict) else None
            if isinstance(attachment, dict):
                yield attachment
    elif resource["resourceType"] == "DiagnosticReport":
        for attachment in resource.get("presentedForm", []) or []:
            if isinstance(attachment, dict):
                yield attachment


def _kind(attachment: dict[str, object]) -> str | None:
    content_type = str(attachment.get("contentType") or "").split(";")[0].strip().lower()
    name = str(attachment.get("title") or attachment.get("url") or "").lower()
    if content_type in _VCF_TYPES or name.endswith((".vcf", ".vcf.gz")):
        return "vcf"
    if content_type in _TSV_TYPES or name.endswith(".tsv"):
        return "tsv"
    return None


def _payload(attachment: dict[str, object], where: str, fetch: Fetcher | None) -> bytes:
    data = attachment.get("data")
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResource(where, "attachment data is not base64") from exc
    url = attachment.get("url")
    if isinstance(url, str) and url:
        if fetch is None:
            raise MalformedResource(where, "attachment URL cannot be fetched from this source")
        try:
            return fetch(url)
        except TransientUpstreamError:
            raise
        except UpstreamError as exc:  # refused host, 404, 403: the attachment is unusable, the patient is not
            raise MalformedResource(where, f"attachment not fetched: {exc.message}") from exc
    raise MalformedResource(where, "attachment has neither data nor url")


def write_vcf(payload: bytes, work_dir: Path) -> Path:
    """Store a VCF under ``work_dir`` by content hash (atomic rename); returns its path."""
    digest = hashlib.sha256(payload).hexdigest()[:24]
    suffix = ".vcf.gz" if payload[:2] == _GZIP_MAGIC else ".vcf"
    target = work_dir / f"{digest}{suffix}"
    if not target.exists():
        work_dir.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(payload)
        temporary.replace(target)
    return target


def _is_vcf(payload: bytes) -> bool:
    return payload[:2] == _GZIP_MAGIC or payload.lstrip()[:16].startswith(b"##fileformat=VCF")


def parse_outside_call(payload: bytes, source: SourceRef, where: str) -> list[GenotypeInput]:
    """Diplotypes from a PharmCAT-style outside-call TSV."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedResource(where, "outside-call file is not UTF-8 text") from exc
    found: list[GenotypeInput] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not fields[0]:
            raise MalformedResource(where, "outside-call line without gene and diplotype")
        gene, diplotype = normalise_alleles(fields[1], fields[0])
        phenotype = fields[2] if len(fields) > 2 and fields[2] else None
        found.append(
            GenotypeInput(kind="diplotype", gene=gene, diplotype=diplotype or None, phenotype=phenotype, source=source)
        )
    return found


def extract_attachments(resource: Resource, work_dir: Path, fetch: Fetcher | None) -> list[GenotypeInput]:
    """GenotypeInputs from the VCF / outside-call attachments of a DocumentReference or DiagnosticReport."""
    where = reference_of(resource)
    if resource.get("status") == "entered-in-error" or resource.get("docStatus") == "entered-in-error":
        return []
    found: list[GenotypeInput] = []
    for attachment in _attachments(resource):
        kind = _kind(attachment)
        if kind is None:
            continue
        payload = _payload(attachment, where, fetch)
        ref = source_ref(resource, when=effective_time(resource))
        if kind == "tsv":
            found.extend(parse_outside_call(payload, ref, where))
            continue
        if not _is_vcf(payload):
            raise MalformedResource(where, "attachment is labelled VCF but is not a VCF")
        path = write_vcf(payload, work_dir)
        found.append(GenotypeInput(kind="vcf", vcf_path=str(path), source=ref))
    return found
