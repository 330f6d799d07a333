"""call_vcf: every sample's gene calls from a VCF (plus outside calls), as GeneResults and the CLI's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.twin import GeneResult, SourceRef
from services.pgx import _kb
from services.pgx._lowest import lowest_phenotype, match_lowest
from services.pgx._matcher import match_gene
from services.pgx._outside import read_outside_calls
from services.pgx._phenotype import LOWEST_FUNCTION_GENES, Phenotype, phenotype_of
from services.pgx._vcf import SiteCall, read_vcf

NO_CALL = "(no call)"
NOT_CALLED = "(not called by matcher)"


@dataclass
class CallReport:
    """Calls for every sample of one VCF: ``samples[sample][gene] -> GeneResult``."""

    source: str
    samples: dict[str, dict[str, GeneResult]] = field(default_factory=dict)
    not_called: dict[str, set[str]] = field(default_factory=dict)  # sample -> genes the matcher did not call
    used_index: bool = False

    def display_diplotypes(self, sample: str, gene: str) -> list[str]:
        """The diplotype list in expected.tsv's form (``(no call)`` / ``(not called by matcher)`` explicit)."""
        result = self.samples[sample][gene]
        if result.diplotypes:
            return list(result.diplotypes)
        return [NOT_CALLED] if gene in self.not_called.get(sample, set()) else [NO_CALL]

    def to_json(self) -> dict[str, Any]:
        """``{"samples": {S: {"genes": {G: {diplotypes, phenotype, activity_score, ...}}}}}``."""
        out: dict[str, Any] = {}
        for sample, genes in self.samples.items():
            out[sample] = {
                "genes": {
                    gene: {
                        "diplotypes": self.display_diplotypes(sample, gene),
                        "phenotype": r.phenotype,
                        "activity_score": r.activity_score,
                        "lookup_key": r.lookup_key,
                        "method": r.method,
                        "missing_positions": list(r.missing_positions),
                        "warnings": list(r.warnings),
                    }
                    for gene, r in sorted(genes.items())
                }
            }
        return {"source": self.source, "kb_version": _kb.meta()["kb_version"], "samples": out}

    def to_table(self) -> str:
        """A readable fixed-width table (one line per sample and gene)."""
        rows = [("sample", "gene", "diplotype(s)", "phenotype", "activity", "missing")]
        for sample, genes in self.samples.items():
            for gene, r in sorted(genes.items()):
                rows.append(
                    (
                        sample,
                        gene,
                        " | ".join(self.display_diplotypes(sample, gene)),
                        r.phenotype or "-",
                        r.activity_score or "-",
                        str(len(r.missing_positions)),
                    )
                )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def call_gene(gene: str, calls: dict[int, SiteCall], source: SourceRef | None = None) -> tuple[GeneResult, bool]:
    """One gene's GeneResult from its site calls; the flag is False when the matcher did not call it."""
    definition = _kb.definition(gene)
    if gene in LOWEST_FUNCTION_GENES:
        match, groups = match_lowest(gene, definition, calls)
        pheno = lowest_phenotype(gene, groups) if match.called else Phenotype()
    else:
        match = match_gene(gene, definition, calls)
        pheno = phenotype_of(gene, match.diplotypes) if match.called else Phenotype()
    result = GeneResult(
        gene=gene,
        diplotypes=match.diplotypes if match.called else [],
        phenotype=pheno.phenotype,
        activity_score=pheno.activity_score,
        lookup_key=pheno.lookup_key,
        method="vcf",
        missing_positions=match.missing_positions,
        warnings=match.warnings + pheno.warnings,
        source=source,
    )
    return result, match.called


def call_vcf(path: Path, *, sample: str | None = None, outside_calls: Path | None = None) -> CallReport:
    """Call every VCF-callable gene for each sample (or ``sample``); outside calls override their genes."""
    data = read_vcf(path, sample=sample)
    source = SourceRef(resource_type="VCF", id=path.name)
    report = CallReport(source=path.name, used_index=data.used_index)
    outside = read_outside_calls(outside_calls) if outside_calls is not None else []
    for name in data.samples:
        genes: dict[str, GeneResult] = {}
        not_called: set[str] = set()
        for gene in _kb.callable_genes():
            result, called = call_gene(gene, data.calls[name].get(gene, {}), source)
            result.warnings.extend(data.warnings.get(gene, []))
            genes[gene] = result
            if not called:
                not_called.add(gene)
        for call in outside:
            genes[call.gene] = call.model_copy(deep=True)
            not_called.discard(call.gene)
        report.samples[name] = genes
        report.not_called[name] = not_called
    return report
