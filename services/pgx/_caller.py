"""call_vcf: every sample's gene calls from a VCF (plus outside calls), as GeneResults and the CLI's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.twin import GeneResult, SourceRef
from services.pgx import _kb
from services.pgx._lowest import heterozygous_display, lowest_phenotype, match_lowest
from services.pgx._matcher import match_gene
from services.pgx._messages import ambiguity_messages
from services.pgx._outside import apply_outside_calls, read_outside_calls
from services.pgx._phenotype import LOWEST_FUNCTION_GENES, Phenotype, phenotype_of, split_diplotype
from services.pgx._vcf import SiteCall, read_vcf

NO_CALL = "(no call)"
CFTR_REFERENCE = "ivacaftor non-responsive CFTR sequence"
RS4149056 = "rs4149056"
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
            return [display_name(gene, d) for d in result.diplotypes]
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


def display_name(gene: str, diplotype: str) -> str:
    """PharmCAT's report spelling: CFTR's reference sequence is shown as ``Reference``."""
    if gene == "CFTR":
        return "/".join("Reference" if p == CFTR_REFERENCE else p for p in split_diplotype(diplotype))
    return diplotype


def _slco1b1_fallback(calls: dict[int, SiteCall], result: GeneResult) -> bool:
    """SLCO1B1 without a star-allele call: phenotype from rs4149056 alone (PharmCAT's rule)."""
    variants = _kb.definition("SLCO1B1")["variants"]
    index = next((i for i, v in enumerate(variants) if v["rsid"] == RS4149056), None)
    call = calls.get(index) if index is not None else None
    if index is None or call is None or len(call.alleles) != 2 or None in call.alleles:
        return False
    star = {variants[index]["ref"]: "*1", **dict.fromkeys(variants[index]["alts"], "*5")}
    if not all(a in star for a in call.alleles):
        return False
    pheno = phenotype_of("SLCO1B1", ["/".join(sorted(star[a or ""] for a in call.alleles))])
    result.diplotypes = ["Unknown/Unknown"]
    result.phenotype, result.activity_score, result.lookup_key = pheno.phenotype, None, pheno.lookup_key
    result.warnings.append("star alleles not called: phenotype from the rs4149056 genotype only")
    return True


def call_gene(
    gene: str, calls: dict[int, SiteCall], source: SourceRef | None = None, *, all_matches: bool = False
) -> tuple[GeneResult, bool]:
    """One gene's GeneResult from its site calls; the flag is False when the matcher did not call it."""
    definition = _kb.definition(gene)
    if gene in LOWEST_FUNCTION_GENES:
        match, groups = match_lowest(gene, definition, calls)
        pheno = lowest_phenotype(gene, groups) if match.called else Phenotype()
    else:
        match = match_gene(gene, definition, calls, all_matches=all_matches)
        pheno = phenotype_of(gene, match.diplotypes) if match.called else Phenotype()
        if gene == "CACNA1S" and match.diplotypes:  # display form, after the phenotype lookup
            match.diplotypes = [heterozygous_display(d) for d in match.diplotypes]
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
    if gene == "SLCO1B1" and not match.called and _slco1b1_fallback(calls, result):
        return result, True
    if match.called and gene not in LOWEST_FUNCTION_GENES:
        result.warnings.extend(ambiguity_messages(result, calls, definition))
    return result, match.called


def call_vcf(
    path: Path, *, sample: str | None = None, outside_calls: Path | None = None, all_matches: bool = False
) -> CallReport:
    """Call every VCF-callable gene for each sample (or ``sample``); outside calls override their genes."""
    data = read_vcf(path, sample=sample)
    source = SourceRef(resource_type="VCF", id=path.name)
    report = CallReport(source=path.name, used_index=data.used_index)
    outside = read_outside_calls(outside_calls) if outside_calls is not None else []
    for name in data.samples:
        genes: dict[str, GeneResult] = {}
        not_called: set[str] = set()
        for gene in _kb.callable_genes():
            result, called = call_gene(gene, data.calls[name].get(gene, {}), source, all_matches=all_matches)
            result.warnings.extend(data.warnings.get(gene, []))
            genes[gene] = result
            if not called:
                not_called.add(gene)
        apply_outside_calls(genes, not_called, outside)
        report.samples[name] = genes
        report.not_called[name] = not_called
    return report
