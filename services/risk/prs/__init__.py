"""Polygenic risk scores: PGS Catalog scoring files x VCF/BCF genotypes, equal to ``plink2 --score``.

>>> from services.risk.prs import read_scoring_file, score_vcf  # doctest: +SKIP
>>> result = score_vcf("PGS000018_hmPOS_GRCh38.txt.gz", "cohort.vcf.gz")  # doctest: +SKIP
"""

from __future__ import annotations

from services.risk.prs._result import (
    PrsOptions,
    PrsResult,
    SampleScore,
    ScoreValue,
    VariantCounts,
    VariantMatch,
)
from services.risk.prs._score import score_vcf
from services.risk.prs._scorefile import ScoreFile, read_scoring_file
from services.risk.prs.reference import ReferencePanel, add_percentiles

__all__ = [
    "PrsOptions",
    "PrsResult",
    "ReferencePanel",
    "SampleScore",
    "ScoreFile",
    "ScoreValue",
    "VariantCounts",
    "VariantMatch",
    "add_percentiles",
    "read_scoring_file",
    "score_vcf",
]
