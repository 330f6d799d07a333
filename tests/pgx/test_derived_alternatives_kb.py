"""Every place in the kb where the derivation rule adds alternatives, pinned after clinical review.

For each CPIC "use-alternative" row that names no drug, the patient gets that row's phenotypes and, for every
other gene of the same CPIC guideline, each usable lookup value or no result; the union of derived
alternatives per row must equal the reviewed table below. A kb or rule change that adds a combination fails
here until someone has looked at it (CPIC statins: PMID:35152405; antidepressants: PMID:37032427).
"""

from __future__ import annotations

import itertools
from typing import Any

from services.common.twin import GeneResult
from services.pgx import _kb, recommend
from services.pgx._alternatives import UNKNOWN_KEYS

_STATINS = frozenset({"rosuvastatin", "fluvastatin", "pravastatin"})
REVIEWED: dict[tuple[str, str, str], frozenset[str]] = {
    ("simvastatin", "SLCO1B1", "Decreased Function"): _STATINS,
    ("simvastatin", "SLCO1B1", "Possible Decreased Function"): _STATINS,
    ("lovastatin", "SLCO1B1", "Decreased Function"): _STATINS,
    ("lovastatin", "SLCO1B1", "Possible Decreased Function"): _STATINS,
    ("citalopram", "CYP2C19", "Ultrarapid Metabolizer"): frozenset({"sertraline"}),
    ("escitalopram", "CYP2C19", "Ultrarapid Metabolizer"): frozenset({"sertraline"}),
}


def _result(gene: str, value: str) -> GeneResult:
    if gene.startswith("HLA-"):
        return GeneResult(gene=gene, diplotypes=[value], method="outside-call")
    return GeneResult(gene=gene, diplotypes=["(from lookup)"], phenotype=value, lookup_key=value, method="outside-call")


def _group_values(group: list[dict[str, Any]]) -> dict[str, list[str]]:
    values: dict[str, set[str]] = {}
    for g in group:
        for r in g["recommendations"]:
            for gene, v in r["lookup"].items():
                if isinstance(v, str) and v not in UNKNOWN_KEYS:
                    values.setdefault(gene, set()).add(v)
    return {gene: sorted(v) for gene, v in values.items()}


def _derived_everywhere() -> dict[tuple[str, str, str], frozenset[str]]:
    cpic = [g for g in _kb.guidelines() if g["source"] == "CPIC" and g.get("cpic_publication")]
    found: dict[tuple[str, str, str], set[str]] = {}
    for g in cpic:
        values = _group_values([h for h in cpic if h["cpic_publication"] == g["cpic_publication"]])
        for row in g["recommendations"]:
            if row["action"] != "use-alternative" or row["alternatives"]:
                continue
            others = sorted(set(values) - set(row["lookup"]))
            for combo in itertools.product(*[[None, *values[o]] for o in others]):
                profile = {gene: _result(gene, v) for gene, v in row["lookup"].items() if v != "No Result"}
                profile |= {o: _result(o, v) for o, v in zip(others, combo, strict=True) if v is not None}
                for drug in row["drugs"]:
                    for rec in recommend(drug, profile).recommendations:
                        derived = {a.name for a in rec.alternatives if a.derived}
                        if derived and rec.lookup == row["lookup"]:
                            key = (drug, "+".join(rec.lookup), "+".join(rec.lookup.values()))
                            found.setdefault(key, set()).update(derived)
    return {k: frozenset(v) for k, v in found.items()}


def test_every_derived_combination_in_the_kb_is_the_reviewed_one() -> None:
    assert _derived_everywhere() == REVIEWED


def test_every_grouped_guideline_has_one_cpic_publication() -> None:
    # the grouping key the rule relies on: the seven statin annotations share one paper, thiopurines another
    pubs = {g["id"]: g["cpic_publication"] for g in _kb.guidelines() if g["source"] == "CPIC"}
    statins = ["PA166105005", "PA166262221", "PA166262341", "PA166262241", "PA166262261", "PA166262281"]
    assert {pubs[i] for i in [*statins, "PA166262321"]} == {"PMID:35152405"}
    assert {pubs[i] for i in ("PA166104933", "PA166104945", "PA166104965")} == {"PMID:30447069"}
    assert pubs["PA166279721"] is None  # nitrofurantoin: no citation, so never grouped
    assert {g["cpic_publication"] for g in _kb.guidelines() if g["source"] == "DPWG"} == {None}
