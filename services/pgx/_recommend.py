"""recommend(drug, profile): the kb's structured recommendations for one drug and a patient's gene results.

Per guideline: every gene's lookup key is taken from the patient's result; a gene with no result uses the
guideline's ``No Result`` rows when it has them, otherwise the result is ``genotype-unknown``; a gene whose
candidate diplotypes disagree gives ``indeterminate`` with the candidates. CPIC guidelines are used when the
drug has one; DPWG guidelines only for drugs CPIC gives no lookup table for (warfarin, DPWG-only drugs).
A CPIC "use an alternative" that names no drug gets derived, genotype-safe alternatives from the same CPIC
guideline (rule and citations in :mod:`services.pgx._alternatives`); alternatives the kb names are kept as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from services.common.twin import GeneResult
from services.pgx import _kb
from services.pgx._alternatives import derive_alternatives, needs_derivation
from services.pgx._drugs import ingredient_text, resolve_drug
from services.pgx._outside import HLA_GENES, hla_status
from services.pgx._phenotype import INDETERMINATE, split_diplotype
from services.pgx.models import Alternative, Drug, DrugGuidance, GuidanceStatus, Recommendation

NO_RESULT = "No Result"
_STATUS_ORDER: tuple[GuidanceStatus, ...] = (
    "actionable",
    "indeterminate",
    "genotype-unknown",
    "standard",
    "no-recommendation",
    "no-guidance",
)
WARFARIN_ALGORITHM_TEXT = (
    "CPIC gives no phenotype table for warfarin: it recommends calculating the dose with a validated "
    "pharmacogenetic dosing algorithm that uses the CYP2C9 and VKORC1 genotypes (and CYP4F2 / rs12777823 where "
    "the guideline flowchart says so). No fixed dose change is given here; see the guideline."
)


@cache
def _guidelines_by_drug() -> dict[str, tuple[dict[str, Any], ...]]:
    """The guidelines recommend() uses for each drug, chosen once at load time (kb order kept)."""
    relevant: dict[str, list[dict[str, Any]]] = {}
    for g in _kb.guidelines():
        for name in g["drugs"]:
            relevant.setdefault(name, []).append(g)
    chosen = {}
    for name, gs in relevant.items():
        cpic = [g for g in gs if g["source"] == "CPIC"]
        cpic_with_recs = [g for g in cpic if g["recommendations"]]
        chosen[name] = tuple(cpic_with_recs or cpic + [g for g in gs if g["source"] == "DPWG"])
    return chosen


def _allele_counts(diplotype: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for allele in split_diplotype(diplotype):
        counts[allele] = counts.get(allele, 0.0) + 1.0
    return counts


def _matches(gene: str, wanted: Any, result: GeneResult | None) -> bool:
    """Does a recommendation's lookup value for ``gene`` match the patient's result?"""
    if result is None or not result.diplotypes and result.phenotype is None:
        return bool(wanted == NO_RESULT)
    if isinstance(wanted, dict):
        return len(result.diplotypes) == 1 and _allele_counts(result.diplotypes[0]) == wanted
    if gene in HLA_GENES:
        parts = str(wanted).split(" ")
        return len(parts) == 2 and hla_status(result, parts[0]) == parts[1]
    key = result.lookup_key
    if key is None:
        return False
    if wanted == key:
        return True
    # DPWG spells activity-score keys with the phenotype: "1.0 (Intermediate Metabolizer)".
    if isinstance(wanted, str) and " (" in wanted and not wanted.endswith("(Phenotyping)"):
        score, phenotype = wanted.split(" (", 1)
        return score == key and phenotype.rstrip(")") == (result.phenotype or "")
    return isinstance(wanted, str) and wanted == result.phenotype


def _gene_state(gene: str, result: GeneResult | None) -> str:
    """``ok``, ``missing`` or ``ambiguous`` for one gene of a guideline."""
    if result is None or (not result.diplotypes and result.phenotype is None):
        return "missing"
    if gene in HLA_GENES:
        return "ok" if result.diplotypes else "missing"
    if result.lookup_key is None:
        return "ambiguous" if len(result.diplotypes) > 1 or result.phenotype == INDETERMINATE else "missing"
    return "ok"


def _rec(
    drug: Drug, g: dict[str, Any], r: dict[str, Any] | None, status: GuidanceStatus, results: list[GeneResult]
) -> Recommendation:
    lookup = {}
    for gene, value in (r["lookup"] if r else {}).items():
        lookup[gene] = value if isinstance(value, str) else "/".join(a for a, n in value.items() for _ in range(int(n)))
    return Recommendation(
        drug=drug,
        status=status,
        genes=list(g["genes"]),
        gene_results=results,
        lookup=lookup,
        action=r["action"] if r else "none",
        dose_change_percent=r["dose_change_percent"] if r else None,
        alternatives=[Alternative(name=a["name"], rxnorm=a["rxnorm"]) for a in r["alternatives"]] if r else [],
        strength=r["strength"] if r else None,
        implications=list(r["implications"]) if r else [],
        recommendation_text=r["text"] if r else None,
        population=r["population"] if r else None,
        source=g["source"],
        guideline_name=g["name"],
        guideline_url=g["url"],
        citations=list(g["citations"]),
    )


def _for_guideline(drug: Drug, g: dict[str, Any], profile: Mapping[str, GeneResult]) -> list[Recommendation]:
    genes: list[str] = g["genes"]
    results = {gene: profile.get(gene) for gene in genes}
    used = [r for r in results.values() if r is not None]
    states = {gene: _gene_state(gene, results[gene]) for gene in genes}
    if not g["recommendations"]:  # CPIC warfarin: dosing algorithm, no table
        status: GuidanceStatus = "actionable" if any(s == "ok" for s in states.values()) else "genotype-unknown"
        rec = _rec(drug, g, None, status, used)
        rec.action = "see-dosing-algorithm" if status == "actionable" else "none"
        rec.recommendation_text = WARFARIN_ALGORITHM_TEXT
        rec.lookup = {gene: r.lookup_key for gene, r in results.items() if r is not None and r.lookup_key}
        return [rec]
    if all(s == "missing" for s in states.values()):
        return [_rec(drug, g, None, "genotype-unknown", used)]
    ambiguous = [gene for gene, s in states.items() if s == "ambiguous"]
    if ambiguous:
        rec = _rec(drug, g, None, "indeterminate", used)
        rec.candidates = [
            f"{gene} {d}" for gene in ambiguous for d in (results[gene] or GeneResult(gene=gene)).diplotypes
        ]
        return [rec]
    candidates = [
        r
        for r in g["recommendations"]
        if drug.name in r["drugs"] and all(_matches(gene, v, results.get(gene)) for gene, v in r["lookup"].items())
    ]
    if any(isinstance(v, dict) for r in candidates for v in r["lookup"].values()):  # DPWG genotype-specific rows win
        candidates = [r for r in candidates if any(isinstance(v, dict) for v in r["lookup"].values())]
    if not candidates:
        missing = [gene for gene, s in states.items() if s == "missing"]
        return [_rec(drug, g, None, "genotype-unknown" if missing else "no-recommendation", used)]
    out = []
    for r in candidates:
        status = "no-recommendation" if r["kind"] == "no-recommendation" else r["kind"]
        out.append(_rec(drug, g, r, status, used))
    return out


def _evaluate(drug: Drug, profile: Mapping[str, GeneResult]) -> list[Recommendation]:
    """Every recommendation of the drug's chosen guidelines for the profile, as the kb states them."""
    recs: list[Recommendation] = []
    for g in _guidelines_by_drug().get(drug.name, ()):
        recs.extend(_for_guideline(drug, g, profile))
    return recs


def recommend(drug: str, profile: Mapping[str, GeneResult]) -> DrugGuidance:
    """Structured guidance for ``drug`` (RxCUI, name or clinical-drug text) and a patient's gene results."""
    resolved = resolve_drug(drug)
    if resolved is None:
        name = ingredient_text(drug)
        return DrugGuidance(query=drug, drug=Drug(name=name) if name else None, status="no-guidance")
    recs = _evaluate(resolved, profile)
    for rec in recs:  # CPIC says "use an alternative" and names none: offer genotype-safe ones, marked derived
        if needs_derivation(rec):
            rec.alternatives = derive_alternatives(rec, lambda name: _evaluate(Drug(name=name), profile))
    if not recs:
        return DrugGuidance(query=drug, drug=resolved, status="no-guidance")
    status = min((r.status for r in recs), key=_STATUS_ORDER.index)
    return DrugGuidance(query=drug, drug=resolved, status=status, recommendations=recs)
