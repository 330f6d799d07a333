"""profile(inputs): the twin's PGx profile from the genomic data the EHR holds.

VCF inputs are called gene by gene; a diplotype input (an outside call: lab report, FHIR genotype
Observation) overrides the VCF for its gene, as PharmCAT's outside calls do, with a warning when the
two differ. When several diplotype inputs name the same gene:

* identical calls merge silently;
* of different dates, the newest wins and a warning names each older result that differs;
* of the same (newest) date, calls that agree on the phenotype give that phenotype (a warning lists
  the diplotypes); calls that do not agree make the gene ``Indeterminate`` with every candidate
  listed and a warning "conflicting genotype results (Observation/a, Observation/b)": a wrong
  "Normal Metabolizer" is worse than an honest "cannot call".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from services.common.twin import GeneResult, GenotypeInput
from services.pgx._caller import call_vcf
from services.pgx._outside import HLA_GENES, outside_call, outside_phenotype
from services.pgx._phenotype import INDETERMINATE
from services.pgx.errors import PGxValueError

_UNDATED = datetime.min.replace(tzinfo=UTC)


def _when(inp: GenotypeInput) -> datetime:
    """Sort key: the input's date as an aware UTC time (naive dates are read as UTC); undated sorts first."""
    when = inp.source.date
    if when is None:
        return _UNDATED
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _ref(call: GeneResult) -> str:
    return call.source.reference if call.source else "?"


def _shown(call: GeneResult) -> str:
    return " or ".join(call.diplotypes) or call.phenotype or "no call"


def _same(a: GeneResult, b: GeneResult) -> bool:
    return a.diplotypes == b.diplotypes and a.phenotype == b.phenotype


def _agree(calls: list[GeneResult]) -> bool:
    """Same phenotype and lookup key (a known one) for every call: the recommendation cannot differ."""
    first = calls[0]
    if first.phenotype is None or first.phenotype == INDETERMINATE or first.gene in HLA_GENES:
        return all(_same(first, c) for c in calls)
    return all(c.phenotype == first.phenotype and c.lookup_key == first.lookup_key for c in calls)


def _combine(gene: str, dated: list[tuple[datetime, GeneResult]]) -> GeneResult:
    """One result from the calls of one gene (sorted oldest first)."""
    newest = dated[-1][0]
    latest: list[GeneResult] = []
    for when, call in dated:
        if when == newest and not any(_same(call, seen) for seen in latest):
            latest.append(call)
    if len(latest) == 1 or _agree(latest):
        chosen = latest[-1]
        if len(latest) > 1:
            chosen.warnings.append(
                f"{gene}: genotype results differ but agree on the phenotype "
                f"({', '.join(f'{_ref(c)} {_shown(c)}' for c in latest)})"
            )
    else:
        # HLA results are read allele by allele from the diplotypes: conflicting ones must not stay there.
        candidates = [] if gene in HLA_GENES else list(dict.fromkeys(d for c in latest for d in c.diplotypes))
        listed = ", ".join(f"{_ref(c)} {_shown(c)}" for c in latest)
        chosen = GeneResult(
            gene=gene,
            diplotypes=candidates,
            phenotype=INDETERMINATE,
            method=latest[-1].method,
            source=latest[-1].source,
            warnings=[
                f"{gene}: conflicting genotype results ({', '.join(_ref(c) for c in latest)}): {listed}; "
                "not interpreted"
            ],
        )
    for when, call in dated:
        if when != newest and not any(_same(call, c) for c in latest):
            day = "undated" if when == _UNDATED else when.date().isoformat()
            chosen.warnings.append(
                f"{gene}: older result {_ref(call)} ({_shown(call)}, {day}) differs; the newest is used"
            )
    return chosen


def _diplotype_call(inp: GenotypeInput) -> GeneResult:
    if not inp.gene or not (inp.diplotype or inp.phenotype):
        raise PGxValueError("a diplotype genotype input needs a gene and a diplotype", location=inp.source.reference)
    if inp.diplotype:
        call = outside_call(inp.gene, inp.diplotype, phenotype=inp.phenotype, source=inp.source)
    else:
        call = outside_phenotype(inp.gene, inp.phenotype or "", source=inp.source)
    if inp.source.resource_type == "Observation":
        call.method = "fhir-genotype"
    return call


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
    by_gene: dict[str, list[tuple[datetime, GeneResult]]] = {}
    for inp in sorted((i for i in inputs if i.kind == "diplotype"), key=_when):
        call = _diplotype_call(inp)
        by_gene.setdefault(call.gene, []).append((_when(inp), call))
    for gene, dated in by_gene.items():
        call = _combine(gene, dated)
        vcf = result.get(gene)
        if vcf is not None and vcf.diplotypes != call.diplotypes:
            call.warnings.append(
                f"{gene}: outside call {_shown(call)} replaces the VCF call {_shown(vcf)}"
                if vcf.diplotypes
                else f"{gene}: outside call overrides the VCF call"
            )
        result[gene] = call
    return result
