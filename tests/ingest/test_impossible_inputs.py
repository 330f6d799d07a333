"""One impossible value costs only the models that read it; impossible birth dates and future values are refused.

Each test builds a twin through ``build_twin`` from a small set of FHIR resources (a patient with every
PREVENT / PCE input), then reads the risk results and the patient-view card.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.cds_hooks._actionable import ActionableIndex
from services.cds_hooks._engines import load_engines
from services.cds_hooks._summary import summary_card
from services.common import codes
from services.common.twin import RiskResult, SkippedResource, Twin
from services.ingest import build_twin
from services.risk import what_if

LOINC = codes.LOINC
RECENT = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
OLDER = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
BORN = date(datetime.now(UTC).year - 55, 3, 1).isoformat()


def _lab(oid: str, code: str, value: float, unit: str, when: str = RECENT) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "code": unit},
    }


def _patient(birth: str = BORN) -> dict[str, Any]:
    race = {
        "url": codes.US_CORE_RACE,
        "extension": [{"url": "ombCategory", "valueCoding": {"system": codes.CDC_RACE_ETHNICITY, "code": "2106-3"}}],
    }
    return {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": birth, "extension": [race]}


def _resources(**override: tuple[float, str]) -> list[dict[str, Any]]:
    labs = {
        "tc": ("2093-3", 200.0, "mg/dL"),
        "hdl": ("2085-9", 45.0, "mg/dL"),
        "sbp": ("8480-6", 130.0, "mm[Hg]"),
        "bmi": ("39156-5", 28.0, "kg/m2"),
        "egfr": ("98979-8", 85.0, "mL/min/{1.73_m2}"),
    }
    for key, (value, unit) in override.items():
        labs[key] = (labs[key][0], value, unit)
    smoking = {
        "resourceType": "Observation",
        "id": "smoke",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": codes.SMOKING_STATUS}]},
        "effectiveDateTime": RECENT,
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA18978-9"}]},
    }
    return [_patient(), smoking, *(_lab(oid, *spec) for oid, spec in labs.items())]


def _by_key(results: list[RiskResult]) -> dict[str, RiskResult]:
    return {f"{r.model}/{r.outcome}": r for r in results}


def _card(twin: Twin) -> str:
    card = summary_card(
        twin,
        risks=twin.risk,
        what_if=lambda t, change: what_if(t, change),
        index=ActionableIndex(load_engines()),
        origin="test",
    )
    return card.detail


@pytest.mark.parametrize(
    ("oid", "value", "unit", "lab", "needed_by", "not_needing"),
    [
        ("bmi", 0.0, "kg/m2", "bmi", "prevent/heart_failure_10y", "prevent/ascvd_10y"),
        ("hdl", -45.0, "mg/dL", "hdl_cholesterol", "prevent/ascvd_10y", "prevent/heart_failure_10y"),
        ("tc", 5000.0, "mg/dL", "total_cholesterol", "pce/ascvd_10y", "prevent/heart_failure_30y"),
        ("egfr", -5.0, "mL/min/{1.73_m2}", "egfr", "prevent/total_cvd_10y", "pce/ascvd_10y"),
    ],
)
def test_one_impossible_lab_costs_only_the_models_that_read_it(
    oid: str, value: float, unit: str, lab: str, needed_by: str, not_needing: str
) -> None:
    result = build_twin("local:t", "p1", _resources(**{oid: (value, unit)}))
    risks = _by_key(result.twin.risk)
    reason = f"{lab} rejected as impossible ({value:g} {unit}, Observation/{oid})"
    assert risks[needed_by].status == "not-applicable"
    assert risks[needed_by].reason == reason
    assert risks[not_needing].status == "ok"
    assert risks[not_needing].value is not None and 0 < risks[not_needing].value < 1
    assert [(s.reference, s.reason) for s in result.skipped] == [(f"Observation/{oid}", f"risk: {reason}")]
    detail = _card(result.twin)
    assert "No risk estimates available." not in detail
    assert f"not applicable: {reason}" in detail


def test_sbp_20_makes_every_blood_pressure_model_not_applicable_and_the_card_says_why() -> None:
    result = build_twin("local:t", "p1", _resources(sbp=(20.0, "mm[Hg]")))
    reason = "systolic_bp rejected as impossible (20 mm[Hg], Observation/sbp)"
    needing_bp = [r for r in result.twin.risk if r.model in ("prevent", "pce")]
    assert len(needing_bp) == 7
    assert {(r.status, r.reason) for r in needing_bp} == {("not-applicable", reason)}
    detail = _card(result.twin)
    assert "No risk estimate could be computed; the reason is given per model." in detail
    assert detail.count(f"not applicable: {reason}") == 7


@pytest.mark.parametrize(
    ("birth", "why"),
    [("1726-01-01", f"implies age {datetime.now(UTC).year - 1726}"), ("2099-01-01", "in the future")],
)
def test_impossible_birth_date_is_reported_and_risk_says_birth_date_invalid(birth: str, why: str) -> None:
    resources = [_patient(birth), *_resources()[1:]]
    result = build_twin("local:t", "p1", resources)
    pce = _by_key(result.twin.risk)["pce/ascvd_10y"]
    assert pce.status == "not-applicable"
    assert pce.reason == f"birth date invalid ({why}, Patient/p1)"
    assert "validated for age" not in (pce.reason or "")
    (skipped,) = result.skipped
    assert skipped.reference == "Patient/p1"
    assert skipped.reason.startswith("Patient.birthDate is invalid (")
    assert result.twin.demographics.gender == "male"  # the rest of the Patient still ingests


def test_future_observation_is_skipped_and_never_the_newest_value() -> None:
    resources = [*_resources(), _lab("tc-future", "2093-3", 300.0, "mg/dL", when="2099-01-01")]
    result = build_twin("local:t", "p1", resources)
    assert result.twin.labs["total_cholesterol"].value == 200.0
    assert result.twin.labs["total_cholesterol"].source.id == "tc"
    assert [(s.reference, s.reason) for s in result.skipped] == [
        ("Observation/tc-future", "effective time is in the future; value not used")
    ]


def test_today_without_a_time_is_not_in_the_future() -> None:
    today = datetime.now(UTC).date().isoformat()
    resources = [*_resources(), _lab("tc-today", "2093-3", 210.0, "mg/dL", when=today)]
    result = build_twin("local:t", "p1", resources)
    assert result.twin.labs["total_cholesterol"].source.id == "tc-today"
    assert result.skipped == []


def _genotype(oid: str, diplotype: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "84413-4"}]},
        "effectiveDateTime": when,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                "valueCodeableConcept": {"coding": [{"code": "HGNC:2621", "display": "CYP2C19"}]},
            }
        ],
        "valueCodeableConcept": {"text": f"CYP2C19 {diplotype}"},
    }


def test_conflicting_same_day_genotypes_make_the_gene_indeterminate() -> None:
    resources = [_patient(), _genotype("g-a", "*1/*1", RECENT), _genotype("g-b", "*2/*2", RECENT)]
    cyp = build_twin("local:t", "p1", resources).twin.pgx["CYP2C19"]
    assert cyp.phenotype == "Indeterminate"
    assert cyp.lookup_key is None
    assert sorted(cyp.diplotypes) == ["*1/*1", "*2/*2"]
    assert cyp.warnings[0].startswith("CYP2C19: conflicting genotype results (Observation/g-a, Observation/g-b)")


def test_newer_genotype_wins_with_a_warning_naming_the_older() -> None:
    resources = [_patient(), _genotype("g-new", "*2/*2", RECENT), _genotype("g-old", "*1/*1", OLDER)]
    cyp = build_twin("local:t", "p1", resources).twin.pgx["CYP2C19"]
    assert cyp.diplotypes == ["*2/*2"]
    assert cyp.phenotype == "Poor Metabolizer"
    assert cyp.warnings == [f"CYP2C19: older result Observation/g-old (*1/*1, {OLDER}) differs; the newest is used"]


def test_identical_genotypes_merge_silently() -> None:
    resources = [_patient(), _genotype("g-a", "*1/*2", RECENT), _genotype("g-b", "*1/*2", RECENT)]
    cyp = build_twin("local:t", "p1", resources).twin.pgx["CYP2C19"]
    assert cyp.diplotypes == ["*1/*2"]
    assert cyp.phenotype == "Intermediate Metabolizer"
    assert cyp.warnings == []


def test_card_without_any_risk_result_lists_the_recorded_reasons() -> None:
    twin = build_twin("local:t", "p1", _resources()).twin
    twin.risk = []
    twin.skipped = [SkippedResource(reference="risk", reason="risk failed (ZeroDivisionError)")]
    detail = _card(twin)
    assert "No risk estimates available.\n- risk: risk failed (ZeroDivisionError)" in detail


def test_future_genotype_is_skipped_not_the_newest() -> None:
    resources = [_patient(), _genotype("g-now", "*1/*2", RECENT), _genotype("g-2099", "*2/*2", "2099-01-01")]
    result = build_twin("local:t", "p1", resources)
    assert result.twin.pgx["CYP2C19"].diplotypes == ["*1/*2"]
    assert [(s.reference, s.reason) for s in result.skipped] == [
        ("Observation/g-2099", "effective time is in the future; value not used")
    ]


def test_same_day_genotypes_agreeing_on_phenotype_keep_it_with_a_warning() -> None:
    resources = [_patient(), _genotype("g-a", "*1/*2", RECENT), _genotype("g-b", "*1/*3", RECENT)]
    cyp = build_twin("local:t", "p1", resources).twin.pgx["CYP2C19"]
    assert cyp.phenotype == "Intermediate Metabolizer"
    assert cyp.warnings == [
        "CYP2C19: genotype results differ but agree on the phenotype (Observation/g-a *1/*2, Observation/g-b *1/*3)"
    ]
