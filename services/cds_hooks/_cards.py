"""PGx cards composed from the recommender's structured facts (never from guideline prose we copied).

One card per actionable drug-gene recommendation; an info card for "genotype unknown" (the caller
de-duplicates it per patient and drug) and for an indeterminate phenotype; nothing for drugs without
guidance or with standard dosing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from services.common.twin import GeneResult, SourceRef
from services.pgx.models import Alternative, Drug, Recommendation

from ._actionable import deviates
from ._models import Card, Coding, Indicator, Link, Source
from ._orders import DraftMedication
from ._phrases import DOSE_ACTIONS, action_phrase, drug_title, gene_phrases, new_uuid
from ._suggestions import derived_alternatives, named_alternatives, suggestions_for

SUMMARY_MAX: Final = 139
OVERRIDE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
TOPIC: Final = Coding(
    system="https://twinrx.dev/fhir/CodeSystem/cds-topic", code="pharmacogenomics", display="Pharmacogenomics"
)
OVERRIDE_REASONS: Final = [
    Coding(
        system=OVERRIDE_SYSTEM,
        code="action-performed-no-adverse-effect",
        display="Patient previously tolerated this drug",
    ),
    Coding(system=OVERRIDE_SYSTEM, code="need-more-info", display="Awaiting confirmatory genotype result"),
    Coding(system=OVERRIDE_SYSTEM, code="recipient-does-not-trust", display="Genotype result not trusted"),
    Coding(system=OVERRIDE_SYSTEM, code="risk-benefit-ratio", display="Benefit outweighs risk for this patient"),
    Coding(system=OVERRIDE_SYSTEM, code="patient-contraindication", display="Alternative contraindicated"),
    Coding(system=OVERRIDE_SYSTEM, code="service-not-available", display="Alternative not available"),
]
_WARNING_ACTIONS: Final = frozenset({"avoid", "use-alternative"}) | DOSE_ACTIONS


def indicator_for(rec: Recommendation) -> Indicator:
    """critical for 'avoid' with strong evidence; warning for dose changes/alternatives; else info.

    A recommendation whose wording could not be reduced to one action (``see-guideline``) is a warning
    only with strong evidence; an algorithm-dosed drug (``see-dosing-algorithm``) only when a gene deviates.
    """
    strength = (rec.strength or "").strip().lower()
    if rec.action == "avoid" and strength.startswith("strong"):
        return "critical"
    if rec.action == "see-dosing-algorithm":  # e.g. warfarin: a change only when a gene deviates
        return "warning" if any(deviates(r) for r in rec.gene_results) else "info"
    if rec.action in _WARNING_ACTIONS or (rec.action == "see-guideline" and strength.startswith("strong")):
        return "warning"
    return "info"


def fit_summary(head: str, tail: str = "") -> str:
    """``head`` + ``tail`` when under 140 characters; else drop the tail, then shorten the head."""
    text = head + tail
    if len(text) <= SUMMARY_MAX:
        return text
    if len(head) <= SUMMARY_MAX:
        return head
    return head[: SUMMARY_MAX - 1].rstrip() + "…"


def _cell(value: str | None) -> str:
    return (value or "–").replace("|", "\\|").replace("\n", " ")


def _source_text(ref: SourceRef | None, method: str | None = None) -> str:
    if ref is None:
        return "not recorded"
    where = ref.reference if ref.resource_type not in ("VCF", "TSV") else f"{ref.resource_type} {ref.id}"
    parts = [where]
    if ref.version:
        parts.append(f"version {ref.version}")
    if ref.date:
        parts.append(ref.date.date().isoformat())
    text = ", ".join(parts)
    return f"{text} ({method})" if method else text


_METHOD_TEXT: Final = {"vcf": "called from VCF", "outside-call": "outside call", "fhir-genotype": "FHIR genotype"}


def genotype_table(results: Iterable[GeneResult]) -> str:
    rows = [
        "| Gene | Diplotype | Phenotype | Activity score | Derived from |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        diplotype = " or ".join(r.diplotypes) if r.diplotypes else "no call"
        rows.append(
            f"| {_cell(r.gene)} | {_cell(diplotype)} | {_cell(r.phenotype)} | {_cell(r.activity_score)} | "
            f"{_cell(_source_text(r.source, _METHOD_TEXT.get(r.method)))} |"
        )
    return "\n".join(rows)


_STRENGTH_ORDER: Final = {"strong": 0, "moderate": 1, "optional": 2}


def strength_rank(rec: Recommendation) -> int:
    return _STRENGTH_ORDER.get((rec.strength or "").strip().lower(), 3)


def group_recommendations(recs: list[Recommendation]) -> list[list[Recommendation]]:
    """Recommendations of one guideline for the same genes (per population) grouped; strongest first."""
    groups: dict[tuple[str, tuple[str, ...]], list[Recommendation]] = {}
    for rec in recs:
        groups.setdefault((rec.source, tuple(sorted(rec.genes))), []).append(rec)
    return [sorted(group, key=strength_rank) for group in groups.values()]


def _table_results(recs: list[Recommendation]) -> list[GeneResult]:
    """The calls the card rests on, then those its derived alternatives rest on (shown, never implied)."""
    rec = recs[0]
    results = list(rec.gene_results or [GeneResult(gene=g, phenotype=rec.lookup.get(g)) for g in rec.genes])
    shown = {r.gene for r in results}
    for alt in derived_alternatives(recs):
        for result in alt.gene_results:
            if result.gene not in shown:
                results.append(result)
                shown.add(result.gene)
    return results


def _named_line(recs: list[Recommendation]) -> list[str]:
    named = named_alternatives(recs)
    if not named:
        return []
    if len(recs) == 1:
        return ["**Alternatives named by the guideline:** " + ", ".join(a.name for a, _ in named), ""]
    lines = ["**Alternatives named by the guideline, by population:**", ""]
    for r in recs:
        names = [a.name for a in r.alternatives if not a.derived]
        lines.append(f"- {r.population or 'general'}: {', '.join(names) if names else 'none named'}")
    return [*lines, ""]


def recommendation_detail(recs: list[Recommendation]) -> str:
    rec = recs[0]
    results = _table_results(recs)
    parts = ["**Pharmacogenomic result**", "", genotype_table(results), ""]
    if rec.implications:
        if len(rec.implications) == 1:
            parts += ["**Implication:** " + rec.implications[0], ""]
        else:  # one line per gene ("TPMT: ...", "NUDT15: ..."), never run together
            parts += ["**Implications:**", "", *(f"- {text}" for text in rec.implications), ""]
    if len(recs) == 1 and rec.recommendation_text:
        parts += [f"**Recommendation ({rec.source}):** {rec.recommendation_text}", ""]
    elif len(recs) > 1:
        parts += [f"**Recommendation ({rec.source}), by population:**", ""]
        for r in recs:
            parts.append(
                f"- {r.population or 'general'} ({r.strength or 'strength not stated'}): "
                f"{r.recommendation_text or action_phrase(r)}"
            )
        parts.append("")
    parts += _named_line(recs)
    derived = derived_alternatives(recs)
    if derived:
        parts += ["**Alternatives derived by twinrx (the guideline names none):**", ""]
        parts += [_derived_line(a) for a in derived]
        parts.append("")
    strength = rec.strength or "not stated"
    if len({r.strength for r in recs}) > 1:  # e.g. clopidogrel: Strong for one population, Moderate for two
        strength = "by population, as listed above"
    evidence = f"**Evidence:** {rec.source} classification {strength}"
    if rec.guideline_name:
        evidence += f"; {rec.guideline_name}"
    if len(recs) == 1 and rec.population:
        evidence += f"; population: {rec.population}"
    if rec.citations:
        evidence += f"; references: {', '.join(rec.citations[:3])}"
    parts.append(evidence + ".")
    for result in results:
        for warning in result.warnings:
            parts += ["", f"_Note ({result.gene}): {warning}_"]
    return "\n".join(parts).strip()


def _derived_line(alt: Alternative) -> str:
    """One derived alternative: why it was chosen and what its own guideline says for this genotype."""
    line = f"- **{alt.name}**: {(alt.reason or 'alternative derived by twinrx').rstrip('. ')}."
    if alt.recommendation_text:
        text = alt.recommendation_text.strip()
        line += f" CPIC for this genotype ({alt.strength or 'strength not stated'}): {text}"
        line += "" if text.endswith(".") else "."
    return line


def _source(rec: Recommendation, drug: str) -> Source:
    label = rec.guideline_name or f"{rec.source} guideline for {drug} and {', '.join(rec.genes)}"
    return Source(label=label[:200], url=rec.guideline_url or None, topic=TOPIC)


def _links(rec: Recommendation, drug: str) -> list[Link] | None:
    if not rec.guideline_url:
        return None
    return [
        Link(label=f"{rec.source} guideline: {drug} and {', '.join(rec.genes)}", url=rec.guideline_url, type="absolute")
    ]


def recommendation_card(recs: list[Recommendation], draft: DraftMedication | None, patient_id: str) -> Card:
    """The card for one actionable recommendation (a group of per-population ones, strongest first)."""
    rec = recs[0]
    drug = drug_title(rec.drug, draft.label if draft else "drug")
    head = f"{drug}: {action_phrase(rec)} ({'; '.join(gene_phrases(rec))})"
    named = [a.name for a, _ in named_alternatives(recs)]
    tail = f"; consider {' or '.join(named[:2])}" if named else ""
    suggestions = suggestions_for(recs, draft, patient_id)
    return Card(
        uuid=new_uuid(),
        summary=fit_summary(head, tail),
        detail=recommendation_detail(recs),
        indicator=indicator_for(rec),
        source=_source(rec, drug),
        suggestions=suggestions or None,
        selectionBehavior="at-most-one" if suggestions else None,
        overrideReasons=list(OVERRIDE_REASONS),
        links=_links(rec, drug),
    )


def testing_card(drug: Drug | None, label: str, genes: list[str], rec: Recommendation | None) -> Card:
    """Info card: guidance exists for the drug but the patient has no genotype for the genes it needs."""
    name = drug_title(drug, label)
    gene_text = ", ".join(genes) or "pharmacogenomic"
    detail = (
        f"{name} has pharmacogenomic dosing guidance depending on **{gene_text}**, and no result for "
        f"{'this gene' if len(genes) == 1 else 'these genes'} was found in the patient's record. "
        "Consider pharmacogenomic testing before or while prescribing."
    )
    links = _links(rec, name) if rec is not None else None
    source = _source(rec, name) if rec is not None else Source(label=f"CPIC guideline for {name}", topic=TOPIC)
    return Card(
        uuid=new_uuid(),
        summary=fit_summary(f"{name}: {gene_text} genotype unknown; consider pharmacogenomic testing"),
        detail=detail,
        indicator="info",
        source=source,
        links=links,
    )


def uninterpretable_card(drug: Drug | None, label: str, rec: Recommendation, results: list[GeneResult]) -> Card:
    """Warning card: a result for a gene the drug's guidance needs is on file but has no phenotype.

    Not the "consider testing" card: the patient was tested, and telling the prescriber no result exists
    would be false; what the unread result means (an ultrarapid or poor metabolizer, say) is unknown.
    """
    name = drug_title(drug, label)
    genes = ", ".join(r.gene for r in results)
    calls = "; ".join(f"{r.gene} {' or '.join(r.diplotypes)}" for r in results)
    detail = "\n".join(
        [
            "**Pharmacogenomic result on file**",
            "",
            genotype_table(results),
            "",
            f"twinrx could not assign a phenotype to this result, so it cannot tell whether the {name} "
            f"guidance ({rec.source}) calls for a change. Any phenotype, including the highest-risk one, "
            "remains possible: read the laboratory report or ask the laboratory before prescribing.",
        ]
        + [f"\n_Note ({r.gene}): {w}_" for r in results for w in r.warnings]
    )
    return Card(
        uuid=new_uuid(),
        summary=fit_summary(f"{name}: {genes} result on file ({calls}) could not be interpreted; review it"),
        detail=detail,
        indicator="warning",
        source=_source(rec, name),
        links=_links(rec, name),
    )


def indeterminate_card(rec: Recommendation, label: str) -> Card:
    """Info card: calls exist but do not determine one phenotype."""
    name = drug_title(rec.drug, label)
    genes = ", ".join(rec.genes)
    detail = recommendation_detail([rec])
    if rec.candidates:
        detail += "\n\n**Candidate diplotypes:** " + ", ".join(rec.candidates)
    return Card(
        uuid=new_uuid(),
        summary=fit_summary(f"{name}: {genes} phenotype indeterminate; review the genotype before dosing"),
        detail=detail,
        indicator="info",
        source=_source(rec, name),
        links=_links(rec, name),
    )
