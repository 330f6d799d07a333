"""profile(inputs): the twin's PGx profile from the genomic data the EHR holds.

VCF inputs are called gene by gene; a diplotype input (an outside call: lab report, FHIR genotype
Observation) overrides the VCF for its gene, as PharmCAT's outside calls do. When two diplotype inputs
name the same gene, the most recent (by ``source.date``) wins and a warning records the conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from services.common.twin import GeneResult, GenotypeInput
from services.pgx._caller import call_vcf
from services.pgx._outside import outside_call, outside_phenotype
from services.pgx.errors import PGxValueError

_UNDATED = datetime.min.replace(tzinfo=UTC)


def _when(inp: GenotypeInput) -> datetime:
    """Sort key: the input's date as an aware UTC time (naive dates are read as UTC); undated sorts first."""
    when = inp.source.date
    if when is None:
        return _UNDATED
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def profile(inputs: Sequence[GenotypeInput]) -> dict[str, GeneResult]:
    """Gene -> result from VCF and diplotype inputs (diplotypes override the VCF for their gene)."""
    result: dict[str, GeneResult] = {}
    for inp in inputs:
        if inp.kind != "vcf":
            continue
        if not inp.vcf_path:
            raise PGxValueError("a VCF genotype input needs vcf_path", location=inp.source.reference)
        report = call_vcf(Path(inp.vcf_path), sample=inp.sample)
        if len(report.samples) > 1:
            raise PGxValueError(
                f"the VCF holds {len(report.samples)} samples: the genotype input must name one",
                location=inp.source.reference,
            )
        for sample_genes in report.samples.values():
            for gene, gene_result in sample_genes.items():
                gene_result.source = inp.source
                gene_result.method = "vcf"
                result[gene] = gene_result
    overrides: dict[str, GeneResult] = {}
    for inp in sorted((i for i in inputs if i.kind == "diplotype"), key=_when):
        if not inp.gene or not (inp.diplotype or inp.phenotype):
            raise PGxValueError(
                "a diplotype genotype input needs a gene and a diplotype", location=inp.source.reference
            )
        if inp.diplotype:
            call = outside_call(inp.gene, inp.diplotype, phenotype=inp.phenotype, source=inp.source)
        else:
            call = outside_phenotype(inp.gene, inp.phenotype or "", source=inp.source)
        if inp.source.resource_type == "Observation":
            call.method = "fhir-genotype"
        previous = overrides.get(call.gene)
        if previous is not None and previous.diplotypes != call.diplotypes:
            call.warnings.append(
                f"{call.gene}: conflicting reports ({previous.source.reference if previous.source else '?'} "
                f"and {inp.source.reference}); the most recent is used"
            )
        if call.gene in result and result[call.gene].diplotypes != call.diplotypes:
            call.warnings.append(f"{call.gene}: outside call overrides the VCF call")
        overrides[call.gene] = call
    result.update(overrides)
    return result
