"""``build_twin``: FHIR resources of one patient in, a new (unsaved) Twin out.

Resources are dispatched by type to the extractors; a malformed resource is reported by reference
with a reason and skipped, and the rest of the patient still ingests. The input fingerprint covers
every resource read (type/id/versionId, or a content hash when the source has no versions) and the
compute engines, so an unchanged patient is a no-op against ``previous``. Loose VCFs of a local folder
arrive as ``VCF`` records (:mod:`._local_vcf`; version = size and mtime) and go to ``services.pgx.profile``
like VCFs attached to a DocumentReference.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from services import risk
from services.common import codes
from services.common.twin import SkippedResource, Twin

from . import _engines
from ._attachments import Fetcher, extract_attachments
from ._extract import (
    Inputs,
    extract_condition,
    extract_medication,
    extract_observation_values,
    extract_patient,
    finish_labs,
)
from ._genomics import THERAPEUTIC_IMPLICATION, GenomicsState, extract_genomic, is_genomic, resolve
from ._local_vcf import LOCAL_VCF, vcf_input
from ._resource import Resource, check_identity, reference_of, version_of
from .errors import MalformedResource

# Resource types a twin is built from; others (Encounter, Claim, ...) are counted as read and ignored,
# and do not enter the fingerprint (a new Claim does not change the twin).
INPUT_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Medication",
        "DiagnosticReport",
        "DocumentReference",
        LOCAL_VCF,
    }
)


@dataclass
class BuildResult:
    """A freshly built twin with what was read and skipped; ``changed`` is False when ``previous`` still holds."""

    twin: Twin
    read: int = 0
    used: int = 0
    skipped: list[SkippedResource] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    changed: bool = True


def default_work_dir() -> Path:
    """Where extracted VCFs go when the caller names no folder."""
    return Path(tempfile.gettempdir()) / "twinrx-vcf"


def _identity(resource: Resource, version: str | None) -> str:
    if version is None:
        version = "sha256:" + hashlib.sha256(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return f"{resource['resourceType']}/{resource['id']}/{version}"


def _digest(keys: list[str]) -> str:
    keys.append(f"twinrx/engines/{_engines.engines_tag()}")
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def input_fingerprint(resources: Iterable[Resource]) -> str:
    """Fingerprint of the input resources (type/id/version) and of the compute engines.

    The same digest as :func:`services.common.twin.fingerprint` over the equivalent SourceRefs, built
    from strings (no model per resource: this runs for every resource of a population).
    """
    return _digest([_identity(r, version_of(r)) for r in resources])


def build_twin(
    server: str,
    patient_id: str,
    resources: Iterable[dict[str, object]],
    *,
    work_dir: Path | None = None,
    previous: Twin | None = None,
    fetch: Fetcher | None = None,
) -> BuildResult:
    """Extract twin inputs from one patient's FHIR resources, run pgx and risk, return the unsaved twin."""
    skipped: list[SkippedResource] = []
    valid: list[Resource] = []
    keys: list[str] = []
    counts: dict[str, int] = {}
    seen: set[tuple[str, str, str | None]] = set()
    # One pass reads each resource's identity once (dedup key, counts and fingerprint key): this loop
    # runs for every resource of a population.
    for raw in resources:
        try:
            resource = check_identity(raw)
        except MalformedResource as exc:
            skipped.append(SkippedResource(reference=exc.reference, reason=exc.reason))
            continue
        rtype = resource["resourceType"]
        version = version_of(resource)
        key = (rtype, resource["id"], version)
        if key in seen:
            continue
        seen.add(key)
        counts[rtype] = counts.get(rtype, 0) + 1
        if rtype in INPUT_TYPES:
            valid.append(resource)
            keys.append(_identity(resource, version))
    read = sum(counts.values()) + len(skipped)
    digest = _digest(keys)
    if previous is not None and previous.input_fingerprint == digest:
        return BuildResult(
            twin=previous, read=read, used=0, skipped=list(previous.skipped), counts=counts, changed=False
        )
    inputs, genomics = _extract_all(patient_id, valid, work_dir or default_work_dir(), fetch, skipped)
    twin = Twin(
        server=server,
        patient_id=patient_id,
        version=previous.version if previous else 0,
        input_fingerprint=digest,
        demographics=inputs.demographics,
        labs=inputs.labs,
        conditions=inputs.conditions,
        medications=inputs.medications,
        smoking=inputs.smoking,
        smoking_source=inputs.smoking_source,
        genotype_inputs=inputs.genotype_inputs,
        skipped=skipped,
    )
    pgx, pgx_errors = _engines.run_pgx(twin.genotype_inputs)
    twin.pgx = pgx
    twin.risk, risk_errors = _engines.run_risk(twin)
    for reference, reason in pgx_errors + risk_errors:
        skipped.append(SkippedResource(reference=reference, reason=reason))
    # A value risk left out (impossible, unknown unit, invalid birth date) is listed once, by its source,
    # so the steward sees which resource to correct; the models that did not need it were still computed.
    listed = {s.reference for s in skipped}
    for reference, reason in [] if risk_errors else risk.rejected_inputs(twin):
        if reference not in listed:
            listed.add(reference)
            skipped.append(SkippedResource(reference=reference, reason=f"risk: {reason}"))
    twin.skipped = skipped
    used = len(inputs.used | genomics.used)
    return BuildResult(twin=twin, read=read, used=used, skipped=skipped, counts=counts, changed=True)


_GENOMIC_CODES = frozenset(
    {*codes.GENOTYPE_CODES, *codes.HAPLOTYPE_CODES, *codes.LEGACY_GENOMICS_CODES, THERAPEUTIC_IMPLICATION}
)

OBSERVATION_CODES = frozenset({*codes.LAB_CODES, codes.SMOKING_STATUS, *_GENOMIC_CODES})


def _observation_codes(observation: Resource) -> set[str] | None:
    """The codes of ``Observation.code`` by a cheap walk, or None when its shape needs the careful path."""
    concept = observation.get("code")
    if not isinstance(concept, dict):
        return None
    coding = concept.get("coding")
    if not isinstance(coding, list):
        return None
    found: set[str] = set()
    for item in coding:
        if not isinstance(item, dict):
            return None
        code = item.get("code")
        if isinstance(code, str):
            found.add(code)
    return found


def _extract_all(
    patient_id: str, resources: list[Resource], work_dir: Path, fetch: Fetcher | None, skipped: list[SkippedResource]
) -> tuple[Inputs, GenomicsState]:
    inputs = Inputs()
    genomics = GenomicsState()
    index = {reference_of(r): r for r in resources if r["resourceType"] == "Medication"}
    for resource in resources:
        rtype = resource["resourceType"]
        try:
            if rtype == "Patient":
                if resource["id"] == patient_id:
                    extract_patient(resource, inputs)
            elif rtype == "Observation":
                code_set = _observation_codes(resource)
                if code_set is not None and not code_set & OBSERVATION_CODES and not resource.get("component"):
                    continue  # no code ingest reads (pain scores, MCH, ...): never looked at further
                if (code_set is None or code_set & _GENOMIC_CODES) and is_genomic(resource):
                    extract_genomic(resource, genomics)
                else:
                    extract_observation_values(resource, inputs)
            elif rtype == "Condition":
                extract_condition(resource, inputs)
            elif rtype in ("MedicationRequest", "MedicationStatement"):
                extract_medication(resource, inputs, index)
            elif rtype in ("DocumentReference", "DiagnosticReport"):
                found = extract_attachments(resource, work_dir, fetch)
                if found:
                    genomics.files.extend(found)
                    genomics.used.add(reference_of(resource))
            elif rtype == LOCAL_VCF:  # a loose VCF of a local folder, linked by the scan
                genomics.files.append(vcf_input(resource))
                genomics.used.add(reference_of(resource))
        except MalformedResource as exc:
            skipped.append(SkippedResource(reference=exc.reference, reason=exc.reason))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            skipped.append(
                SkippedResource(reference=reference_of(resource), reason=f"unreadable ({exc.__class__.__name__})")
            )
    finish_labs(inputs)
    skipped.extend(SkippedResource(reference=ref, reason=reason) for ref, reason in inputs.problems)
    late: list[tuple[str, str]] = []
    inputs.genotype_inputs = resolve(genomics, late)
    skipped.extend(SkippedResource(reference=ref, reason=reason) for ref, reason in late)
    return inputs, genomics
