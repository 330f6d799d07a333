"""FHIR R4 output of risk results: RiskAssessment per equation result, PhenoAge as an Observation.

Both carry a stable identifier (system ``urn:twinrx:risk``, value ``<patient>:<model>:<outcome>``) so a
write-back can be a conditional update (``PUT RiskAssessment?identifier=urn:twinrx:risk|...``) and a
re-run replaces rather than duplicates. ``basis`` / ``derivedFrom`` reference the Observations (and
Conditions, MedicationRequests) the result was computed from; the method coding names the model and its
version; the note gives the citation (DOI) and the model card.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from services.common.codes import LOINC, UCUM
from services.common.twin import RiskResult
from services.risk._data import load

__all__ = [
    "BIOLOGICAL_AGE_SYSTEM",
    "MODEL_SYSTEM",
    "OUTCOME_SYSTEM",
    "RISK_IDENTIFIER_SYSTEM",
    "fhir_resources",
    "phenoage_observation",
    "risk_assessment",
]

RISK_IDENTIFIER_SYSTEM: Final = "urn:twinrx:risk"
MODEL_SYSTEM: Final = "https://twinrx.dev/fhir/CodeSystem/risk-model"
OUTCOME_SYSTEM: Final = "https://twinrx.dev/fhir/CodeSystem/risk-outcome"
BIOLOGICAL_AGE_SYSTEM: Final = "https://twinrx.dev/fhir/CodeSystem/biological-age"

_MODEL_CODES: Final = {
    "prevent": ("prevent-base-2024", "AHA PREVENT equations, base model"),
    "pce": ("pce-2013", "2013 ACC/AHA pooled cohort equations"),
    "phenoage": ("phenoage-levine-2018", "Levine 2018 Phenotypic Age"),
    "findrisc": ("findrisc", "Finnish Diabetes Risk Score"),
}
_OUTCOMES: Final = {
    "total_cvd": "Total cardiovascular disease",
    "ascvd": "Atherosclerotic cardiovascular disease",
    "heart_failure": "Heart failure",
    "findrisc": "Type 2 diabetes",
}
_BASIS_TYPES: Final = frozenset({"Observation", "Condition", "MedicationRequest", "MedicationStatement"})
_AGE_LOINC: Final = "30525-0"


def _identifier(result: RiskResult, patient_ref: str) -> list[dict[str, str]]:
    return [{"system": RISK_IDENTIFIER_SYSTEM, "value": f"{patient_ref}:{result.model}:{result.outcome}"}]


def _basis(result: RiskResult) -> list[dict[str, str]]:
    seen: list[str] = []
    for used in result.inputs:
        if used.source is not None and used.source.resource_type in _BASIS_TYPES:
            ref = used.source.reference
            if ref not in seen:
                seen.append(ref)
    return [{"reference": r} for r in seen]


def _method(result: RiskResult) -> dict[str, Any]:
    code, display = _MODEL_CODES[result.model]
    coding = {"system": MODEL_SYSTEM, "code": code, "display": display}
    if result.model_version:
        coding["version"] = result.model_version
    return {"coding": [coding], "text": f"{display} ({load(result.model)['citation']})"}


def _note(result: RiskResult) -> list[dict[str, str]]:
    parts = [f"Citation: {result.citation}", f"Model card: {result.model_card}"]
    stale = [u.name for u in result.inputs if u.stale]
    if stale:
        parts.append("Stale inputs: " + ", ".join(stale))
    if result.reason:
        parts.append(result.reason)
    return [{"text": ". ".join(parts)}]


def _when(occurrence: date | datetime | None) -> dict[str, str]:
    return {} if occurrence is None else {"occurrenceDateTime": occurrence.isoformat()}


def _require_ok(result: RiskResult) -> None:
    if result.status != "ok" or result.value is None:
        raise ValueError(f"{result.model}/{result.outcome} is {result.status}: only ok results are written to FHIR")


def risk_assessment(
    result: RiskResult, patient_ref: str, *, occurrence: date | datetime | None = None
) -> dict[str, Any]:
    """An R4 RiskAssessment for one ``ok`` equation result (PREVENT, PCE, FINDRISC).

    Raises ValueError for a result that is not ``ok`` or is a PhenoAge (use :func:`phenoage_observation`).
    """
    _require_ok(result)
    if result.model == "phenoage":
        raise ValueError("PhenoAge is written as an Observation: use phenoage_observation()")
    assert result.value is not None
    kind = "findrisc" if result.model == "findrisc" else result.outcome.rsplit("_", 1)[0]
    prediction: dict[str, Any] = {
        "outcome": {"coding": [{"system": OUTCOME_SYSTEM, "code": kind, "display": _OUTCOMES[kind]}],
                    "text": _OUTCOMES[kind]},
    }  # fmt: skip
    if result.unit == "probability":
        prediction["probabilityDecimal"] = round(result.value, 6)
    else:
        prediction["rationale"] = f"{result.value:g} {result.unit}"
    if result.category:
        prediction["qualitativeRisk"] = {"text": result.category}
    if result.horizon_years:
        prediction["whenRange"] = {
            "high": {"value": result.horizon_years, "unit": "years", "system": UCUM, "code": "a"},
        }
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "identifier": _identifier(result, patient_ref),
        "status": "final",
        "subject": {"reference": patient_ref},
        **_when(occurrence),
        "method": _method(result),
        "basis": _basis(result),
        "prediction": [prediction],
        "note": _note(result),
    }
    if not resource["basis"]:
        del resource["basis"]
    return resource


def _years(value: float) -> dict[str, Any]:
    return {"value": round(value, 2), "unit": "years", "system": UCUM, "code": "a"}


def phenoage_observation(
    result: RiskResult, patient_ref: str, *, occurrence: date | datetime | None = None
) -> dict[str, Any]:
    """PhenoAge as an Observation in twinrx's biological-age code system, with chronological age and difference.

    Takes the ``phenoage_years`` result (its inputs carry the chronological age).
    """
    _require_ok(result)
    if result.model != "phenoage" or result.outcome != "phenoage_years":
        raise ValueError("phenoage_observation() takes the phenoage/phenoage_years result")
    assert result.value is not None
    age = next(float(u.value) for u in result.inputs if u.name == "age")
    derived = _basis(result)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": _identifier(result, patient_ref),
        "status": "final",
        "code": {
            "coding": [{"system": BIOLOGICAL_AGE_SYSTEM, "code": "phenoage", "display": "Phenotypic age (PhenoAge)"}],
            "text": "PhenoAge (Levine 2018)",
        },
        "subject": {"reference": patient_ref},
        **({} if occurrence is None else {"effectiveDateTime": occurrence.isoformat()}),
        "valueQuantity": _years(result.value),
        "method": _method(result),
        "derivedFrom": derived,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": _AGE_LOINC, "display": "Age"}]},
                "valueQuantity": _years(age),
            },
            {
                "code": {
                    "coding": [
                        {
                            "system": BIOLOGICAL_AGE_SYSTEM,
                            "code": "phenoage-minus-age",
                            "display": "PhenoAge minus chronological age",
                        }
                    ]  # fmt: skip
                },
                "valueQuantity": _years(result.value - age),
            },
        ],
        "note": _note(result),
    }
    if not derived:
        del resource["derivedFrom"]
    return resource


def fhir_resources(
    results: list[RiskResult], patient_ref: str, *, occurrence: date | datetime | None = None
) -> list[dict[str, Any]]:
    """Every writable resource for ``results``: RiskAssessments and the PhenoAge Observation; others skipped."""
    out = []
    for r in results:
        if r.status != "ok" or r.value is None:
            continue
        if r.model == "phenoage":
            if r.outcome == "phenoage_years":
                out.append(phenoage_observation(r, patient_ref, occurrence=occurrence))
        else:
            out.append(risk_assessment(r, patient_ref, occurrence=occurrence))
    return out
