"""services.pgx: pharmacogenomics as a pure library (files and values in, results out).

- :func:`call_vcf` calls star alleles / diplotypes for every sample of a GRCh38 VCF (PharmCAT's rules).
- :func:`outside_call` and :func:`profile` turn lab-reported diplotypes and VCF inputs into GeneResults.
- :func:`recommend` looks up CPIC (DPWG where CPIC has no table) recommendations as structured facts.
- :mod:`services.pgx.fhir` builds Genomics Reporting IG Observations and Provenance (plain dicts).
"""

from __future__ import annotations

from services.pgx._caller import CallReport, call_vcf
from services.pgx._drugs import drugs_with_guidance, genes_for_drug, resolve_drug
from services.pgx._kb import meta as kb_meta
from services.pgx._outside import outside_call, read_outside_calls
from services.pgx._profile import profile
from services.pgx._recommend import recommend
from services.pgx.errors import GenomeBuildError, PGxFileError, PGxValueError, SampleNotFound, VcfFormatError
from services.pgx.fhir import genotype_observation, implication_observation, provenance
from services.pgx.models import Alternative, Drug, DrugGuidance, Recommendation
from services.pgx.observations import genotype_from_observation

__all__ = [
    "Alternative",
    "CallReport",
    "Drug",
    "DrugGuidance",
    "GenomeBuildError",
    "PGxFileError",
    "PGxValueError",
    "Recommendation",
    "SampleNotFound",
    "VcfFormatError",
    "call_vcf",
    "drugs_with_guidance",
    "genes_for_drug",
    "genotype_from_observation",
    "genotype_observation",
    "implication_observation",
    "kb_meta",
    "outside_call",
    "profile",
    "provenance",
    "read_outside_calls",
    "recommend",
    "resolve_drug",
]
