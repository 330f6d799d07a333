"""PGx cards composed from the recommender's structured facts (never from guideline prose we copied).

One card per actionable drug-gene recommendation; an info card for "genotype unknown" (the caller
de-duplicates it per patient and drug) and for an indeterminate phenotype; nothing for drugs without
guidance or with standard dosing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any, Final

from services.common.codes import RXNORM
from services.common.twin import GeneResult, SourceRef
from services.pgx.models import Alternative, Drug, Recommendation

from ._actionable import deviates
from ._models import Action, Card, Coding, Indicator, Link, Source, Suggestion
from ._orders import DraftMedication, as_list

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
_DOSE_ACTIONS: Final = frozenset({"reduce-dose", "increase-dose", "adjust-dose"})
_WARNING_ACTIONS: Final = frozenset({"avoid", "use-alternative"}) | _DOSE_ACTIONS


def _uuid() -> str:
    return str(uuid.uuid4())


def drug_title(drug: Drug | None, fallback: str) -> str:
    name = drug.name if drug is not None else fallback
    return name[:1].upper() + name[1:]


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


def _result_for(rec: Recommendation, gene: str) -> GeneResult | None:
    return next((r for r in rec.gene_results if r.gene == gene), None)


def gene_phrases(rec: Recommendation) -> list[str]:
    """'CYP2C19 Poor Metabolizer' per gene of the recommendation.

    A gene without a phenotype (CYP4F2 has no CPIC phenotype table) is named by its diplotype, or as
    "not tested", so the reader never sees a bare gene name and wonders what it stands for.
    """
    out = []
    for gene in rec.genes:
        result = _result_for(rec, gene)
        phenotype = (result.phenotype if result else None) or rec.lookup.get(gene)
        if phenotype:
            out.append(f"{gene} {phenotype}")
        elif result is not None and result.diplotypes:
            out.append(f"{gene} {' or '.join(result.diplotypes)}")
        else:
            out.append(f"{gene} not tested")
    return out


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


def recommendation_detail(recs: list[Recommendation]) -> str:
    rec = recs[0]
    results = rec.gene_results or [GeneResult(gene=g, phenotype=rec.lookup.get(g)) for g in rec.genes]
    parts = ["**Pharmacogenomic result**", "", genotype_table(results), ""]
    if rec.implications:
        parts += ["**Implication:** " + " ".join(rec.implications), ""]
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
    named = [a for a in rec.alternatives if not a.derived]
    if named:
        parts += ["**Alternatives named by the guideline:** " + ", ".join(a.name for a in named), ""]
    derived = [a for a in rec.alternatives if a.derived]
    if derived:
        parts += ["**Alternatives derived by twinrx (the guideline names none):**", ""]
        parts += [_derived_line(a) for a in derived]
        parts.append("")
    evidence = f"**Evidence:** {rec.source} classification {rec.strength or 'not stated'}"
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


def _alt_order(draft: DraftMedication, name: str, rxnorm: str | None, patient_id: str) -> dict[str, Any]:
    src = draft.resource
    coding: dict[str, Any] = {"system": RXNORM, "code": rxnorm, "display": name} if rxnorm else {}
    concept: dict[str, Any] = {"text": name}
    if coding:
        concept["coding"] = [coding]
    order: dict[str, Any] = {
        "resourceType": draft.resource_type,
        "status": "draft",
        "intent": src.get("intent") or "order",
        "medicationCodeableConcept": concept,
    }
    if draft.resource_type == "MedicationOrder":
        del order["intent"]
        order["patient"] = src.get("patient") or {"reference": f"Patient/{patient_id}"}
    else:
        order["subject"] = src.get("subject") or {"reference": f"Patient/{patient_id}"}
    for key in ("encounter", "requester", "authoredOn"):
        if key in src:
            order[key] = src[key]
    return order


def _scaled_order(draft: DraftMedication, percent: int, note: str) -> dict[str, Any]:
    order = copy.deepcopy(draft.resource)
    factor = 1 + percent / 100
    for dosage in as_list(order.get("dosageInstruction")):
        if not isinstance(dosage, dict):
            continue
        quantities = [dosage.get("doseQuantity")]
        quantities += [dr.get("doseQuantity") for dr in as_list(dosage.get("doseAndRate")) if isinstance(dr, dict)]
        for qty in quantities:
            if isinstance(qty, dict) and isinstance(qty.get("value"), int | float):
                qty["value"] = round(qty["value"] * factor, 4)
    order["note"] = [*as_list(order.get("note")), {"text": note}]
    return order


def suggestions_for(rec: Recommendation, draft: DraftMedication | None, patient_id: str) -> list[Suggestion]:
    """Replace the draft by each alternative, or update its dose, or remove it (first is recommended)."""
    if draft is None:
        return []
    drug = drug_title(rec.drug, draft.label)
    out: list[Suggestion] = []
    delete = (
        Action(type="delete", description=f"Remove the draft {drug} order", resourceId=draft.reference)
        if draft.reference
        else None
    )
    named = [a for a in rec.alternatives if not a.derived]
    derived = [a for a in rec.alternatives if a.derived]
    out += [_replace(drug, alt, delete, draft, patient_id) for alt in named]
    pct = rec.dose_change_percent
    if rec.action in _DOSE_ACTIONS and pct and draft.reference:
        note = f"{drug}: {action_phrase(rec)} ({', '.join(gene_phrases(rec))}; {rec.source})"
        out.append(
            Suggestion(
                label=f"{'Reduce' if pct < 0 else 'Increase'} {drug} dose by {abs(pct)}%",
                uuid=_uuid(),
                actions=[Action(type="update", description=note, resource=_scaled_order(draft, pct, note))],
            )
        )
    if rec.action in ("avoid", "use-alternative") and not named and delete:
        out.append(Suggestion(label=f"Cancel the {drug} order", uuid=_uuid(), actions=[delete]))
    if out:
        out[0].isRecommended = True
    # a derived alternative is offered, never pre-selected: the guideline leaves that choice to the prescriber
    return out + [_replace(drug, alt, delete, draft, patient_id) for alt in derived]


def _replace(drug: str, alt: Alternative, delete: Action | None, draft: DraftMedication, patient_id: str) -> Suggestion:
    create = Action(
        type="create",
        description=f"Order {alt.name} instead",
        resource=_alt_order(draft, alt.name, alt.rxnorm, patient_id),
    )
    return Suggestion(
        label=f"Replace {drug} with {alt.name}", uuid=_uuid(), actions=[delete, create] if delete else [create]
    )


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
    named = [a.name for a in rec.alternatives if not a.derived]
    tail = f"; consider {' or '.join(named[:2])}" if named else ""
    suggestions = suggestions_for(rec, draft, patient_id)
    return Card(
        uuid=_uuid(),
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
        uuid=_uuid(),
        summary=fit_summary(f"{name}: {gene_text} genotype unknown; consider pharmacogenomic testing"),
        detail=detail,
        indicator="info",
        source=source,
        links=links,
    )


def indeterminate_card(rec: Recommendation, label: str) -> Card:
    """Info card: calls exist but do not determine one phenotype."""
    name = drug_title(rec.drug, label)
    genes = ", ".join(rec.genes)
    detail = recommendation_detail([rec])
    if rec.candidates:
        detail += "\n\n**Candidate diplotypes:** " + ", ".join(rec.candidates)
    return Card(
        uuid=_uuid(),
        summary=fit_summary(f"{name}: {genes} phenotype indeterminate; review the genotype before dosing"),
        detail=detail,
        indicator="info",
        source=_source(rec, name),
        links=_links(rec, name),
    )
