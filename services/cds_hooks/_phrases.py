"""Short phrases shared by cards and their suggestions: drug titles, actions, gene results."""

from __future__ import annotations

import uuid
from typing import Final

from services.common.twin import GeneResult
from services.pgx.models import Drug, Recommendation

DOSE_ACTIONS: Final = frozenset({"reduce-dose", "increase-dose", "adjust-dose"})


def new_uuid() -> str:
    return str(uuid.uuid4())


def drug_title(drug: Drug | None, fallback: str) -> str:
    name = drug.name if drug is not None else fallback
    return name[:1].upper() + name[1:]


def action_phrase(rec: Recommendation) -> str:
    pct = rec.dose_change_percent
    match rec.action:
        case "avoid":
            return "avoid"
        case "use-alternative":
            return "use an alternative"
        case "reduce-dose":
            return f"reduce dose by {abs(pct)}%" if pct else "reduce dose"
        case "increase-dose":
            return f"increase dose by {abs(pct)}%" if pct else "increase dose"
        case "adjust-dose":
            return "adjust dose"
        case "use-with-caution":
            return "use with caution"
        case "monitor":
            return "monitor closely"
        case "consider-testing":
            return "consider genotyping"
        case "see-dosing-algorithm":
            return "dose with a genotype-guided algorithm"
        case "see-guideline":
            return "see guideline for dosing"
        case _:
            return "standard dosing"


def result_for(rec: Recommendation, gene: str) -> GeneResult | None:
    return next((r for r in rec.gene_results if r.gene == gene), None)


def gene_phrases(rec: Recommendation) -> list[str]:
    """'CYP2C19 Poor Metabolizer' per gene of the recommendation.

    A gene without a phenotype (CYP4F2 has no CPIC phenotype table) is named by its diplotype, or as
    "not tested", so the reader never sees a bare gene name and wonders what it stands for.
    """
    out = []
    for gene in rec.genes:
        result = result_for(rec, gene)
        phenotype = (result.phenotype if result else None) or rec.lookup.get(gene)
        if phenotype:
            out.append(f"{gene} {phenotype}")
        elif result is not None and result.diplotypes:
            out.append(f"{gene} {' or '.join(result.diplotypes)}")
        else:
            out.append(f"{gene} not tested")
    return out
