"""FHIR R4 output: RiskAssessment and the PhenoAge Observation, validated with fhir.resources (R4B)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.riskassessment import RiskAssessment

from services.risk import assess, fhir_resources, phenoage_observation, risk_assessment
from tests.risk._twins import ON, PHENO_10_LABS, prevent_1_twin, twin


def _result(results: list, model: str, outcome: str):  # type: ignore[no-untyped-def]
    return next(r for r in results if r.model == model and r.outcome == outcome)


def test_risk_assessment_for_prevent() -> None:
    r = _result(assess(prevent_1_twin(), on=ON), "prevent", "heart_failure_30y")
    ra = risk_assessment(r, "Patient/p1", occurrence=ON)
    RiskAssessment.model_validate(ra)
    assert ra["identifier"] == [{"system": "urn:twinrx:risk", "value": "Patient/p1:prevent:heart_failure_30y"}]
    assert ra["subject"] == {"reference": "Patient/p1"} and ra["occurrenceDateTime"] == "2026-06-01"
    prediction = ra["prediction"][0]
    assert prediction["probabilityDecimal"] == pytest.approx(0.389602, abs=1e-6)
    assert prediction["whenRange"]["high"] == {"value": 30, "unit": "years", "system": "http://unitsofmeasure.org",
                                               "code": "a"}  # fmt: skip
    assert prediction["outcome"]["coding"][0]["code"] == "heart_failure"
    assert ra["method"]["coding"][0] == {
        "system": "https://twinrx.dev/fhir/CodeSystem/risk-model",
        "code": "prevent-base-2024",
        "display": "AHA PREVENT equations, base model",
        "version": "PREVENT-base-2024",
    }
    assert [b["reference"] for b in ra["basis"]] == [
        "Observation/systolic_bp-1", "MedicationRequest/med-0", "Condition/dm-1", "Observation/smoke-1",
        "Observation/egfr-1", "Observation/bmi-1",
    ]  # fmt: skip
    assert ra["note"][0]["text"] == (
        "Citation: https://doi.org/10.1161/CIRCULATIONAHA.123.067626. Model card: services/risk/model_cards/prevent.md"
    )


def test_the_identifier_is_stable_across_runs() -> None:
    first = risk_assessment(_result(assess(prevent_1_twin(), on=ON), "pce", "ascvd_10y"), "Patient/p1")
    changed = prevent_1_twin()
    changed.labs["systolic_bp"] = changed.labs["systolic_bp"].model_copy(update={"value": 130.0})
    again = risk_assessment(_result(assess(changed, on=ON), "pce", "ascvd_10y"), "Patient/p1")
    assert again["prediction"] != first["prediction"]
    expected = [{"system": "urn:twinrx:risk", "value": "Patient/p1:pce:ascvd_10y"}]
    assert first["identifier"] == again["identifier"] == expected


def test_phenoage_observation_has_age_and_difference() -> None:
    r = _result(assess(twin(age=73, labs=PHENO_10_LABS), on=ON), "phenoage", "phenoage_years")
    obs = phenoage_observation(r, "Patient/p1", occurrence=ON)
    Observation.model_validate(obs)
    assert obs["code"]["coding"][0] == {
        "system": "https://twinrx.dev/fhir/CodeSystem/biological-age",
        "code": "phenoage",
        "display": "Phenotypic age (PhenoAge)",
    }
    assert obs["valueQuantity"] == {"value": 73.45, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}
    age, diff = obs["component"]
    assert age["code"]["coding"][0]["code"] == "30525-0" and age["valueQuantity"]["value"] == 73.0
    assert diff["valueQuantity"]["value"] == 0.45
    assert len(obs["derivedFrom"]) == 9
    assert obs["method"]["coding"][0]["version"] == "Levine-2018 (CRP ln, denominator 0.090165)"


def test_results_that_are_not_ok_are_not_written() -> None:
    results = assess(prevent_1_twin(), on=ON)
    missing = _result(results, "phenoage", "phenoage_years")
    with pytest.raises(ValueError, match="phenoage/phenoage_years is missing-inputs"):
        phenoage_observation(missing, "Patient/p1")
    resources = fhir_resources(results, "Patient/p1", occurrence=ON)
    assert [r["identifier"][0]["value"].split(":", 1)[1] for r in resources] == [
        "prevent:total_cvd_10y", "prevent:ascvd_10y", "prevent:heart_failure_10y", "prevent:total_cvd_30y",
        "prevent:ascvd_30y", "prevent:heart_failure_30y", "pce:ascvd_10y",
    ]  # fmt: skip
    for resource in resources:
        RiskAssessment.model_validate(resource)


def test_findrisc_risk_assessment_is_qualitative() -> None:
    labs = {"bmi": (27.0, "kg/m2"), "waist_circumference": (90.0, "cm")}
    answers = {"physically_active": False, "vegetables_daily": True, "high_glucose_history": False,
               "family_history_diabetes": "second_degree"}  # fmt: skip
    r = _result(assess(twin(age=50, labs=labs), on=ON, answers=answers), "findrisc", "findrisc_points")
    ra = risk_assessment(r, "Patient/p1")
    RiskAssessment.model_validate(ra)
    assert ra["prediction"][0]["qualitativeRisk"] == {"text": "moderate (~17%)"}
    assert ra["prediction"][0]["rationale"] == "12 points"
    assert "probabilityDecimal" not in ra["prediction"][0]
