"""Named, genotype-safe alternatives where a CPIC recommendation says "use an alternative" and names none.

CPIC often names the alternative only in a figure or in prose. Example: simvastatin with SLCO1B1 decreased
function, "Prescribe an alternative statin depending on the desired potency (see Figure 1 of PMID: 35152405)"
(CPIC guideline for SLCO1B1, ABCG2 and CYP2C9 and statins, Cooper-DeHoff et al. 2022, PMID:35152405).

The rule, applied only to such a CPIC recommendation (action ``use-alternative``, no alternative in the kb):
offer every other drug of the SAME CPIC guideline (same ``cpic_publication`` in the kb) for which ALL hold:

1. its own CPIC guidance covers every gene of the ordered drug's guideline, so CPIC has judged it for the
   very genotype that ruled the ordered drug out (a gene its guideline does not mention is "not assessed",
   not "safe": oxcarbazepine's guideline has no HLA-A, so it is not offered for carbamazepine and
   HLA-A*31:01);
2. every gene its guidance needs has a usable call for this patient (no "No Result", "n/a" or
   "Indeterminate" lookup, no missing or ambiguous gene);
3. every recommendation CPIC gives it for this patient (all populations) is standard dosing: status and
   action ``standard``, no dose change, no dose limit in the wording, strength Strong or Moderate;
4. it has an RxNorm ingredient code, so the one-click order is coded.

Drugs that share the problem fall out by rule 3 (azathioprine with TPMT poor metabolism gets no named
alternative: mercaptopurine and thioguanine have non-standard recommendations for the same genotype). Each
derived alternative is marked ``derived`` and carries its reason, its own CPIC recommendation, strength,
lookup and guideline page, so a card can say why it was chosen. Named alternatives are never changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from services.pgx import _kb
from services.pgx.models import Alternative, Recommendation

# Lookup keys that mean "CPIC could not place this gene": a recommendation resting on one is not a
# statement that the drug is fine for this genotype.
UNKNOWN_KEYS = frozenset({"No Result", "n/a", "Indeterminate"})
# Defence in depth for rule 3: the kb classifies "prescribe <=20mg" as reduce-dose today, but a standard
# row worded with a limit must never pass if the text rules change.
_DOSE_LIMIT = re.compile(r"≤|<\s*\d|\blimit|\bmaximum\b|not exceed|\breduc|\blower\b", re.IGNORECASE)
# Rule 3 also asks for CPIC's confidence that standard dosing is right: an "Optional" standard row (e.g.
# sertraline with CYP2B6 poor / CYP2C19 ultrarapid metabolism) is too weak to put a one-click order behind.
_FIRM = frozenset({"strong", "moderate"})
DERIVED_REASON = "alternative derived: standard dosing for this genotype under the same CPIC guideline"

# drug name -> that drug's recommendations for this patient (what recommend() answers for it)
Evaluate = Callable[[str], list[Recommendation]]


@cache
def _publication_drugs() -> dict[str, tuple[str, ...]]:
    """CPIC paper (PMID) -> every drug its per-drug annotations cover, sorted."""
    out: dict[str, set[str]] = {}
    for g in _kb.guidelines():
        if g["source"] == "CPIC" and g.get("cpic_publication"):
            out.setdefault(g["cpic_publication"], set()).update(g["drugs"])
    return {pub: tuple(sorted(names)) for pub, names in out.items()}


@cache
def publication_of(guideline_url: str) -> str | None:
    """The CPIC paper of the annotation at ``guideline_url``, or None (DPWG, no citation)."""
    for g in _kb.guidelines():
        if g["url"] == guideline_url and g["source"] == "CPIC":
            pub: str | None = g.get("cpic_publication")
            return pub
    return None


def needs_derivation(rec: Recommendation) -> bool:
    """A CPIC 'use an alternative' recommendation that names no drug."""
    return (
        rec.source == "CPIC"
        and rec.status == "actionable"
        and rec.action == "use-alternative"
        and not rec.alternatives
        and rec.guideline_url is not None
    )


def _is_standard(rec: Recommendation) -> bool:
    """Rules 2 and 3 for one recommendation of a candidate drug."""
    if rec.source != "CPIC" or rec.status != "standard" or rec.action != "standard":
        return False
    if (rec.strength or "").lower() not in _FIRM:
        return False
    if rec.dose_change_percent is not None or _DOSE_LIMIT.search(rec.recommendation_text or ""):
        return False
    called = {r.gene for r in rec.gene_results if r.diplotypes or r.phenotype}
    if not set(rec.genes) <= called or set(rec.lookup) != set(rec.genes):
        return False
    return not any(value in UNKNOWN_KEYS for value in rec.lookup.values())


def _genotype_phrase(rec: Recommendation, gene: str, key: str) -> str:
    """``SLCO1B1 Decreased Function``; activity-score keys with the phenotype: ``CYP2C9 Normal Metabolizer
    (activity score 2.0)``."""
    phenotype = next((r.phenotype for r in rec.gene_results if r.gene == gene), None)
    if phenotype and phenotype != key and re.fullmatch(r"[≥>]?\d+(\.\d+)?", key):
        return f"{gene} {phenotype} (activity score {key})"
    return f"{gene} {key}"


def _candidate(name: str, needed_genes: set[str], publication: str, evaluate: Evaluate) -> Alternative | None:
    rxnorm = (_kb.drugs().get(name) or {}).get("rxnorm")
    if not rxnorm:
        return None
    recs = evaluate(name)
    if not recs or not needed_genes <= {g for r in recs for g in r.genes}:
        return None
    if not all(_is_standard(r) for r in recs):
        return None
    first = recs[0]
    genotype = ", ".join(_genotype_phrase(first, gene, key) for gene, key in sorted(first.lookup.items()))
    return Alternative(
        name=name,
        rxnorm=rxnorm,
        derived=True,
        reason=f"{DERIVED_REASON} ({publication}): CPIC recommends standard {name} dosing for {genotype}.",
        recommendation_text=first.recommendation_text,
        strength=first.strength,
        lookup=dict(first.lookup),
        guideline_url=first.guideline_url,
        gene_results=[r for r in first.gene_results if r.gene in first.lookup],
    )


def derive_alternatives(rec: Recommendation, evaluate: Evaluate) -> list[Alternative]:
    """The derived alternatives for ``rec`` (empty when the rule finds none or does not apply)."""
    if not needs_derivation(rec) or rec.guideline_url is None:
        return []
    publication = publication_of(rec.guideline_url)
    if publication is None:
        return []
    out = []
    for name in _publication_drugs().get(publication, ()):
        if name == rec.drug.name:
            continue
        alt = _candidate(name, set(rec.genes), publication, evaluate)
        if alt is not None:
            out.append(alt)
    # CPIC's firmest standard-dosing statement first (the card pre-selects nothing by this; it only lists)
    return sorted(out, key=lambda a: ((a.strength or "").lower() != "strong", a.name))
