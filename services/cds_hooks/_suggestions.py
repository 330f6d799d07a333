"""Suggestions of a PGx card: replace the draft order by an alternative, change its dose, or cancel it.

Pre-selection (``isRecommended``) is only for the one action the guideline leaves no choice about: a
single recommendation (one population) with exactly one suggestion implementing it. Why: a card can
cover several populations (clopidogrel: cardiovascular and neurovascular indications; prasugrel is named
for the first and contraindicated after a stroke), or several drugs may serve (two named alternatives, or
"use an alternative, or limit the dose"); picking one for the prescriber would be a guess. Alternatives
derived by twinrx (the guideline names none) are offered but never pre-selected.
"""

from __future__ import annotations

import copy
from typing import Any

from services.common.codes import RXNORM
from services.pgx.models import Alternative, Recommendation

from ._models import Action, Suggestion
from ._orders import DraftMedication, as_list
from ._phrases import DOSE_ACTIONS, action_phrase, drug_title, gene_phrases, new_uuid


def named_alternatives(recs: list[Recommendation]) -> list[tuple[Alternative, list[str]]]:
    """Alternatives the guideline names, each with the populations naming it (group order, no repeats)."""
    out: dict[str, tuple[Alternative, list[str]]] = {}
    for rec in recs:
        for alt in rec.alternatives:
            if not alt.derived:
                out.setdefault(alt.name, (alt, []))[1].append(rec.population or "general")
    return list(out.values())


def derived_alternatives(recs: list[Recommendation]) -> list[Alternative]:
    """Alternatives twinrx derived for any recommendation of the group (first occurrence of each drug)."""
    out: dict[str, Alternative] = {}
    for rec in recs:
        for alt in rec.alternatives:
            if alt.derived:
                out.setdefault(alt.name, alt)
    return list(out.values())


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


def _scale(quantity: Any, factor: float) -> int:
    if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
        quantity["value"] = round(quantity["value"] * factor, 4)
        return 1
    return 0


def _scaled_order(draft: DraftMedication, percent: int, note: str) -> tuple[dict[str, Any], int, bool]:
    """The draft with every structured dose scaled; how many were scaled; whether a dosage also has free text.

    Free text cannot be rewritten safely ("1250 mg/m2 twice daily"): it is kept, marked as the original
    order's, so the updated order never states two different doses without saying which one is new.
    """
    order = copy.deepcopy(draft.resource)
    factor = 1 + percent / 100
    scaled, has_text = 0, False
    for dosage in as_list(order.get("dosageInstruction")):
        if not isinstance(dosage, dict):
            continue
        before = scaled
        scaled += _scale(dosage.get("doseQuantity"), factor)
        for dose_rate in (dr for dr in as_list(dosage.get("doseAndRate")) if isinstance(dr, dict)):
            scaled += _scale(dose_rate.get("doseQuantity"), factor)
            dose_range = dose_rate.get("doseRange")
            if isinstance(dose_range, dict):
                scaled += _scale(dose_range.get("low"), factor) + _scale(dose_range.get("high"), factor)
        if isinstance(dosage.get("text"), str) and dosage["text"].strip():
            has_text = True
            if scaled > before:
                dosage["text"] = f"[structured dose changed by {percent}%; original text:] {dosage['text']}"
    order["note"] = [*as_list(order.get("note")), {"text": note}]
    return order, scaled, has_text


def suggestions_for(recs: list[Recommendation], draft: DraftMedication | None, patient_id: str) -> list[Suggestion]:
    """Replace the draft by each alternative, update its dose, or remove it; see the module for pre-selection."""
    if draft is None:
        return []
    rec = recs[0]
    drug = drug_title(rec.drug, draft.label)
    out: list[Suggestion] = []
    delete = (
        Action(type="delete", description=f"Remove the draft {drug} order", resourceId=draft.reference)
        if draft.reference
        else None
    )
    named = named_alternatives(recs)
    for alt, populations in named:
        # on a card for several populations, say which ones the guideline names this drug for
        scope = f" (CPIC names it for: {'; '.join(populations)})" if len(populations) < len(recs) else ""
        out.append(_replace(f"Replace {drug} with {alt.name}{scope}", drug, alt, delete, draft, patient_id))
    pct = rec.dose_change_percent
    dose_text = False
    if rec.action in DOSE_ACTIONS and pct and draft.reference:
        note = f"{drug}: {action_phrase(rec)} ({', '.join(gene_phrases(rec))}; {rec.source})"
        order, scaled, dose_text = _scaled_order(draft, pct, note)
        if scaled:  # a draft with no structured dose ("as directed") cannot be changed by one click
            out.append(
                Suggestion(
                    label=f"{'Reduce' if pct < 0 else 'Increase'} {drug} dose by {abs(pct)}%",
                    uuid=new_uuid(),
                    actions=[Action(type="update", description=note, resource=order)],
                )
            )
    if rec.action in ("avoid", "use-alternative") and not named and delete:
        out.append(Suggestion(label=f"Cancel the {drug} order", uuid=new_uuid(), actions=[delete]))
    # "use an alternative" with none named also allows the drug at a limited dose: cancelling is one choice
    # and a dose change is pre-selected only when the order's dose is wholly structured (no free text to reread)
    unambiguous = (
        len(recs) == 1 and len(out) == 1 and not (rec.action == "use-alternative" and not named) and not dose_text
    )
    if unambiguous:
        out[0].isRecommended = True
    for alt in derived_alternatives(recs):
        label = f"Replace {drug} with {alt.name} (alternative derived by twinrx)"
        out.append(_replace(label, drug, alt, delete, draft, patient_id))
    return out


def _replace(
    label: str, drug: str, alt: Alternative, delete: Action | None, draft: DraftMedication, patient_id: str
) -> Suggestion:
    create = Action(
        type="create",
        description=f"Order {alt.name} instead of {drug}",
        resource=_alt_order(draft, alt.name, alt.rxnorm, patient_id),
    )
    return Suggestion(label=label, uuid=new_uuid(), actions=[delete, create] if delete else [create])
