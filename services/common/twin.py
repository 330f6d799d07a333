"""The digital twin: one patient's derived, explainable state.

Every value carries a :class:`SourceRef` naming the FHIR resource (or file) it came from, so a
card can say which Observation or VCF a recommendation rests on and when it was taken. The EHR
stays the system of record; a twin is rebuilt whenever its inputs change.

This module is a pure data contract (pydantic only). ``pgx`` and ``risk`` produce the
``GeneResult`` and ``RiskResult`` values; ``ingest`` fills the inputs; ``cds_hooks`` reads it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TWIN_SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SourceRef(_Model):
    """Where a value came from: a FHIR resource (type/id/version) or a file."""

    resource_type: str = Field(description="FHIR resource type, or 'VCF' / 'TSV' for files.")
    id: str = Field(description="Resource id, or the file name for files.")
    version: str | None = Field(None, description="meta.versionId when the server gave one.")
    date: datetime | None = Field(None, description="effective/issued/recorded time of the value.")

    @property
    def reference(self) -> str:
        """A FHIR relative reference (``Observation/123``), or the file name."""
        return f"{self.resource_type}/{self.id}"


class Demographics(_Model):
    """The little of the Patient resource that decisions need."""

    gender: Literal["male", "female", "other", "unknown"] = "unknown"
    birth_date: date | None = None
    race: Literal["white", "black", "other"] | None = Field(
        None, description="US Core OMB race category, only for the race-based pooled cohort equations."
    )
    source: SourceRef | None = None

    def age_on(self, when: date) -> float | None:
        """Age in whole years on ``when``, or None without a birth date."""
        if self.birth_date is None:
            return None
        years = when.year - self.birth_date.year
        if (when.month, when.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return float(years)


class LabValue(_Model):
    """The latest value of one coded lab or vital, in the unit the lab sent it (UCUM)."""

    name: str = Field(description="Canonical input name, e.g. 'total_cholesterol', 'systolic_bp'.")
    code: str = Field(description="LOINC code of the Observation.")
    value: float
    unit: str = Field(description="UCUM unit as sent, e.g. 'mg/dL', 'mmol/L'.")
    source: SourceRef


class ConditionFact(_Model):
    """An active, confirmed Condition."""

    system: str
    code: str
    display: str | None = None
    source: SourceRef


class MedicationFact(_Model):
    """An active MedicationRequest (or statement), coded in RxNorm where possible."""

    rxnorm: str | None = None
    display: str | None = None
    status: str | None = None
    source: SourceRef


class GenotypeInput(_Model):
    """Genomic data as found in the EHR, before calling: a diplotype or a VCF to call."""

    kind: Literal["diplotype", "vcf"]
    gene: str | None = Field(None, description="HGNC symbol for a diplotype; None for a VCF.")
    diplotype: str | None = Field(None, description="e.g. '*2/*2' (gene prefix stripped).")
    phenotype: str | None = Field(None, description="Phenotype the lab reported, if any.")
    vcf_path: str | None = Field(None, description="Local path of a fetched/extracted VCF.")
    sample: str | None = Field(None, description="Sample in the VCF, when it holds several.")
    source: SourceRef


class GeneResult(_Model):
    """One gene's call: diplotype(s), phenotype and activity score, with where it came from."""

    gene: str
    diplotypes: list[str] = Field(default_factory=list, description="Top-scoring calls; empty = no call.")
    phenotype: str | None = Field(None, description="e.g. 'Poor Metabolizer'; 'Indeterminate' if calls disagree.")
    activity_score: str | None = None
    lookup_key: str | None = Field(None, description="Key used to find recommendations (phenotype or score).")
    method: Literal["vcf", "outside-call", "fhir-genotype"] = "vcf"
    missing_positions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    source: SourceRef | None = None


class InputUsed(_Model):
    """One input of a risk result, with its provenance."""

    name: str
    value: float | str | bool
    unit: str | None = None
    source: SourceRef | None = None
    stale: bool = False


class RiskResult(_Model):
    """One risk-model outcome for the patient."""

    model: str = Field(description="e.g. 'prevent', 'pce', 'phenoage', 'findrisc'.")
    outcome: str = Field(description="e.g. 'ascvd_10y', 'phenoage_years', 'findrisc_points'.")
    status: Literal["ok", "not-applicable", "missing-inputs"] = "ok"
    value: float | None = None
    unit: str = Field("probability", description="'probability', 'years' or 'points'.")
    horizon_years: int | None = None
    category: str | None = None
    reason: str | None = None
    missing: list[str] = Field(default_factory=list)
    inputs: list[InputUsed] = Field(default_factory=list)
    model_version: str | None = None
    citation: str | None = None
    model_card: str | None = None


class SkippedResource(_Model):
    """A resource that could not be used, with the reason (never its content)."""

    reference: str
    reason: str


class Twin(_Model):
    """A patient's digital twin as stored in Redis (one key per FHIR server + patient)."""

    schema_version: int = TWIN_SCHEMA_VERSION
    server: str = Field(description="FHIR base URL the patient lives on, or 'local:<name>'.")
    patient_id: str
    version: int = Field(0, description="Store version; incremented by every successful write.")
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    input_fingerprint: str = Field("", description="Hash of the inputs' type/id/version; equal = no-op sync.")
    demographics: Demographics = Field(default_factory=Demographics)
    labs: dict[str, LabValue] = Field(default_factory=dict)
    conditions: list[ConditionFact] = Field(default_factory=list)
    medications: list[MedicationFact] = Field(default_factory=list)
    smoking: Literal["current", "former", "never", "unknown"] | None = None
    smoking_source: SourceRef | None = None
    genotype_inputs: list[GenotypeInput] = Field(default_factory=list)
    pgx: dict[str, GeneResult] = Field(default_factory=dict)
    risk: list[RiskResult] = Field(default_factory=list)
    skipped: list[SkippedResource] = Field(default_factory=list)


def fingerprint(refs: list[SourceRef]) -> str:
    """A stable hash of the input resources' identities and versions (order-independent)."""
    keys = sorted(f"{r.resource_type}/{r.id}/{r.version or ''}" for r in refs)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()
