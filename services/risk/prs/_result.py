"""Result models of a polygenic score run (pydantic, serialised as the CLI's JSON)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PrsOptions", "PrsResult", "SampleScore", "ScoreValue", "VariantCounts", "VariantMatch"]

CHRX_NOTE = (
    "chrX: a haploid call (a male's non-PAR chrX) counts as two copies of the allele (dosage 0 or 2) and "
    "adds 2 to ALLELE_CT, as plink2 --score does"
)
PERCENTILE_NOTE = (
    "a percentile is only valid against a reference panel of the same genetic ancestry as the sample, "
    "scored with the same variants and options"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrsOptions(_Model):
    """How variants are matched and genotypes scored."""

    mean_impute: bool = Field(False, description="Missing dosage = 2 x effect-allele frequency (plink2 default).")
    keep_ambiguous: bool = Field(False, description="Keep strand-ambiguous A/T and C/G SNPs (matched unflipped).")
    keep_multiallelic: bool = Field(False, description="Score the effect allele at multi-allelic records.")
    min_overlap: float = Field(0.75, ge=0.0, le=1.0, description="Least fraction of variants that must match.")
    use_dosage: bool = Field(True, description="Use FORMAT/DS when the VCF has it (else GT).")
    vcf_build: str | None = Field(None, description="The VCF's build when its header does not say.")
    use_harmonised: bool = Field(True, description="Use hm_chr/hm_pos columns when the file has them.")


class VariantCounts(_Model):
    """What became of the scoring file's variants."""

    total: int
    matched: int
    excluded: dict[str, int] = Field(default_factory=dict, description="reason -> count (ambiguous, multiallelic)")
    unmatched: dict[str, int] = Field(
        default_factory=dict, description="reason -> count (absent, alleles differ, no harmonised position)"
    )


class VariantMatch(_Model):
    """One scoring-file variant's fate (returned with ``detail=True``)."""

    chrom: str
    pos: int
    effect_allele: str
    other_allele: str | None
    status: str
    reason: str
    target_ref: str | None = None
    target_alt: list[str] = Field(default_factory=list)
    scored_allele: str | None = Field(None, description="The VCF allele counted (after any strand flip).")


@dataclass(slots=True)
class ScoreValue:
    """plink2-compatible figures for one score and one sample (a plain dataclass: thousands per run)."""

    sum: float
    avg: float
    allele_ct: int
    denom: int


@dataclass(slots=True)
class SampleScore:
    """All scores of one sample, and percentiles when a reference panel was given."""

    sample: str
    scores: dict[str, ScoreValue]
    percentile: dict[str, float] | None = None


class PrsResult(_Model):
    """A scoring run: inputs, matching summary, per-sample scores and notes."""

    scoring_file: str
    pgs_id: str
    score_names: list[str]
    score_build: str | None
    vcf: str
    vcf_build: str | None
    vcf_build_source: str
    options: PrsOptions
    variants: VariantCounts
    samples: list[SampleScore]
    notes: list[str] = Field(default_factory=list)
    fingerprint: str = Field(description="Hash of the matched variants, alleles, weights and options.")
    reference_panel: str | None = None
    detail: list[VariantMatch] = Field(default_factory=list)
