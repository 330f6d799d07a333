"""assess(): twin inputs -> every applicable result, with units, provenance, staleness and statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.risk import assess, rejected_inputs
from services.risk.errors import ImpossibleValueError
from services.risk.units import convert
from tests.risk._twins import LISINOPRIL, ON, PHENO_10_LABS, PREVENT_1, obs, prevent_1_twin, twin


def _by_outcome(results: list, model: str) -> dict:
    return {r.outcome: r for r in results if r.model == model}


def test_prevent_from_a_twin_with_molar_lipids_equals_the_reference_case() -> None:
    results = _by_outcome(assess(prevent_1_twin(), on=ON), "prevent")
    assert set(results) == set(PREVENT_1)
    for outcome, expected in PREVENT_1.items():
        r = results[outcome]
        assert r.status == "ok"
        assert r.value == pytest.approx(expected, abs=1e-6)
        assert r.horizon_years == int(outcome[-3:-1])
        assert r.citation == "https://doi.org/10.1161/CIRCULATIONAHA.123.067626"
        assert r.model_card == "services/risk/model_cards/prevent.md"
        assert r.model_version == "PREVENT-base-2024"


def test_inputs_used_carry_their_source_converted_value_and_unit() -> None:
    r = _by_outcome(assess(prevent_1_twin(), on=ON), "prevent")["ascvd_10y"]
    used = {i.name: i for i in r.inputs}
    assert set(used) == {
        "age", "sex", "systolic_bp", "bp_treated", "diabetes", "smoking", "egfr",
        "total_cholesterol", "hdl_cholesterol", "statin",
    }  # fmt: skip
    assert used["total_cholesterol"].value == pytest.approx(200.0, abs=1e-3)
    assert used["total_cholesterol"].unit == "mg/dL"
    assert used["total_cholesterol"].source is not None
    assert used["total_cholesterol"].source.reference == "Observation/total_cholesterol-1"
    assert used["bp_treated"].value is True
    assert used["bp_treated"].source is not None and used["bp_treated"].source.reference == "MedicationRequest/med-0"
    assert used["diabetes"].source is not None and used["diabetes"].source.reference == "Condition/dm-1"
    assert used["statin"].value is False and used["statin"].source is None
    hf = _by_outcome(assess(prevent_1_twin(), on=ON), "prevent")["heart_failure_10y"]
    assert "bmi" in {i.name for i in hf.inputs} and "total_cholesterol" not in {i.name for i in hf.inputs}


def test_old_inputs_are_flagged_stale_by_the_configured_age() -> None:
    t = prevent_1_twin()
    t.labs["systolic_bp"] = obs("systolic_bp", 160.0, "mm[Hg]", when=datetime(2024, 1, 1, tzinfo=UTC))
    r = _by_outcome(assess(t, on=ON), "prevent")["total_cvd_10y"]
    assert {i.name for i in r.inputs if i.stale} == {"systolic_bp"}
    r = _by_outcome(assess(t, on=ON, max_age_days=10_000), "prevent")["total_cvd_10y"]
    assert not any(i.stale for i in r.inputs)
    r = _by_outcome(assess(t, on=ON, max_age_days=10), "prevent")["total_cvd_10y"]
    assert {i.name for i in r.inputs if i.stale} == {"systolic_bp", "total_cholesterol", "hdl_cholesterol", "egfr",
                                                     "smoking"}  # fmt: skip


def test_pce_uses_race_specific_equations_and_needs_race() -> None:
    white = _by_outcome(assess(prevent_1_twin(), on=ON), "pce")["ascvd_10y"]
    assert white.status == "ok" and white.value == pytest.approx(0.0637958, abs=1e-6)
    assert white.citation == "https://doi.org/10.1161/01.cir.0000437741.48606.98"
    other = _by_outcome(assess(prevent_1_twin(race="other"), on=ON), "pce")["ascvd_10y"]
    assert other.value == white.value
    black = _by_outcome(assess(prevent_1_twin(race="black"), on=ON), "pce")["ascvd_10y"]
    assert black.value is not None and black.value != pytest.approx(white.value)
    unknown = _by_outcome(assess(prevent_1_twin(race=None), on=ON), "pce")["ascvd_10y"]
    assert unknown.status == "missing-inputs" and unknown.missing == ["race"] and unknown.value is None
    # PREVENT is race-free: the same numbers whatever the race.
    assert _by_outcome(assess(prevent_1_twin(race="black"), on=ON), "prevent")["ascvd_10y"].value == pytest.approx(
        PREVENT_1["ascvd_10y"], abs=1e-6
    )


def test_outside_validated_ranges_is_not_applicable_with_the_reason() -> None:
    labs = dict(prevent_1_twin().labs)
    t = prevent_1_twin()
    t.labs = labs
    t.labs["systolic_bp"] = obs("systolic_bp", 190.0, "mm[Hg]")
    prevent = _by_outcome(assess(t, on=ON), "prevent")
    assert prevent["ascvd_10y"].status == "not-applicable"
    assert prevent["ascvd_10y"].value is None
    assert prevent["ascvd_10y"].reason == "PREVENT is validated for systolic BP 90-180 mm[Hg] (got 190)"
    assert _by_outcome(assess(t, on=ON), "pce")["ascvd_10y"].status == "ok"  # PCE allows SBP up to 200

    old = _by_outcome(assess(prevent_1_twin(age=65), on=ON), "prevent")
    assert old["ascvd_10y"].status == "ok"
    assert old["ascvd_30y"].reason == "PREVENT is validated for age 30-59 years for 30-year risk (got 65)"
    young = _by_outcome(assess(prevent_1_twin(age=35), on=ON), "pce")["ascvd_10y"]
    assert young.reason == "PCE is validated for age 40-79 years (got 35)"


def test_missing_inputs_are_listed_by_name() -> None:
    t = twin(age=50, labs={"systolic_bp": (120.0, "mm[Hg]")}, smoking=None)
    prevent = _by_outcome(assess(t, on=ON), "prevent")
    assert prevent["ascvd_10y"].status == "missing-inputs"
    assert prevent["ascvd_10y"].missing == ["smoking", "egfr", "total_cholesterol", "hdl_cholesterol"]
    assert prevent["heart_failure_10y"].missing == ["smoking", "egfr", "bmi"]
    unknown_smoking = twin(age=50, smoking="unknown")
    assert "smoking" in _by_outcome(assess(unknown_smoking, on=ON), "pce")["ascvd_10y"].missing


def test_unknown_unit_makes_only_the_models_reading_it_not_applicable() -> None:
    t = prevent_1_twin()
    t.labs["total_cholesterol"] = obs("total_cholesterol", 200.0, "mg/L", oid="chol-9")
    results = assess(t, on=ON)
    pce_result = _by_outcome(results, "pce")["ascvd_10y"]
    assert pce_result.status == "not-applicable"
    assert pce_result.reason == "total_cholesterol rejected: unit 'mg/L' is not supported (Observation/chol-9)"
    assert _by_outcome(results, "prevent")["heart_failure_10y"].status == "ok"  # reads BMI, not cholesterol
    assert rejected_inputs(t, on=ON) == [
        ("Observation/chol-9", "total_cholesterol rejected: unit 'mg/L' is not supported (Observation/chol-9)")
    ]


def test_impossible_values_are_rejected_with_exact_messages() -> None:
    t = prevent_1_twin()
    t.labs["total_cholesterol"] = obs("total_cholesterol", -5.0, "mg/dL", oid="chol-2")
    ascvd = _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"]
    assert ascvd.status == "not-applicable"
    assert ascvd.reason == "total_cholesterol rejected as impossible (-5 mg/dL, Observation/chol-2)"
    with pytest.raises(ImpossibleValueError) as err:
        convert("total_cholesterol", -5.0, "mg/dL", "Observation/chol-2")
    assert str(err.value) == (
        "Observation/chol-2: total_cholesterol -5 mg/dL is impossible (must be between 1 and 1500 mg/dL)"
    )
    t = prevent_1_twin()
    t.labs["systolic_bp"] = obs("systolic_bp", 900.0, "mm[Hg]", oid="bp-7")
    results = _by_outcome(assess(t, on=ON), "prevent")
    assert {r.reason for r in results.values()} == {"systolic_bp rejected as impossible (900 mm[Hg], Observation/bp-7)"}


def test_egfr_is_computed_from_creatinine_with_ckd_epi_2021() -> None:
    labs = {k: v for k, v in prevent_1_twin().labs.items() if k != "egfr"}
    t = prevent_1_twin()
    t.labs = labs
    t.labs["creatinine"] = obs("creatinine", 80.0, "umol/L")
    r = _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"]
    used = {i.name: i for i in r.inputs}
    assert used["egfr"].value == pytest.approx(77.3715, abs=1e-3)
    assert used["creatinine"].source is not None and used["creatinine"].source.reference == "Observation/creatinine-1"


def test_statin_and_antihypertensive_classes_from_rxnorm_or_display() -> None:
    t = prevent_1_twin(meds=[(None, "Amlodipine 5 MG Oral Tablet"), ("83367", "atorvastatin")])
    used = {i.name: i for i in _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"].inputs}
    assert used["bp_treated"].value is True and used["statin"].value is True
    t = prevent_1_twin(meds=[("1191", "aspirin")])
    used = {i.name: i for i in _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"].inputs}
    assert used["bp_treated"].value is False and used["statin"].value is False


def test_phenoage_from_lab_units_equals_the_reference_case() -> None:
    t = twin(age=73, gender="female", labs=PHENO_10_LABS)
    pheno = _by_outcome(assess(t, on=ON), "phenoage")
    assert pheno["phenoage_years"].status == "ok"
    assert pheno["phenoage_years"].unit == "years"
    assert pheno["phenoage_years"].value == pytest.approx(73.449827, abs=1e-4)
    assert pheno["phenoage_difference_years"].value == pytest.approx(0.449827, abs=1e-4)
    assert pheno["phenoage_difference_years"].category == "older than chronological age"
    assert pheno["phenoage_years"].model_version == "Levine-2018 (CRP ln, denominator 0.090165)"
    bioage = _by_outcome(assess(t, on=ON, crp_transform="ln1p"), "phenoage")["phenoage_years"]
    assert bioage.value == pytest.approx(75.302145, abs=1e-4)
    alt = _by_outcome(assess(t, on=ON, phenoage_denominator=0.09165), "phenoage")["phenoage_years"]
    assert alt.value == pytest.approx(74.552477, abs=1e-4)


def test_phenoage_zero_crp_is_floored_and_said() -> None:
    labs = dict(PHENO_10_LABS, crp=(0.0, "mg/L"))
    r = _by_outcome(assess(twin(age=73, labs=labs), on=ON), "phenoage")["phenoage_years"]
    assert r.status == "ok"
    assert r.reason == "ln CRP floored at 0.01 mg/dL (below detection)"


def test_findrisc_needs_questionnaire_answers_and_derives_the_rest() -> None:
    labs = {"bmi": (27.0, "kg/m2"), "waist_circumference": (90.0, "cm")}
    t = twin(age=50, gender="female", labs=labs)
    r = _by_outcome(assess(t, on=ON), "findrisc")["findrisc_points"]
    assert r.status == "missing-inputs"
    assert r.missing == ["physically_active", "vegetables_daily", "high_glucose_history", "family_history_diabetes"]
    answers = {
        "physically_active": False,
        "vegetables_daily": True,
        "high_glucose_history": False,
        "family_history_diabetes": "second_degree",
    }
    r = _by_outcome(assess(t, on=ON, answers=answers), "findrisc")["findrisc_points"]
    assert (r.status, r.value, r.category, r.unit) == ("ok", 12.0, "moderate (~17%)", "points")
    # An HbA1c in the prediabetes range answers "high blood glucose found" (+5) from the lab.
    t = twin(age=50, gender="female", labs={**labs, "hba1c": (6.0, "%")}, meds=[LISINOPRIL])
    partial = {k: v for k, v in answers.items() if k != "high_glucose_history"}
    r = _by_outcome(assess(t, on=ON, answers=partial), "findrisc")["findrisc_points"]
    assert r.value == 19.0 and r.category == "high (~33%)"


def test_bmi_derived_from_weight_and_height() -> None:
    t = twin(age=50, labs={"body_weight": (180.0, "[lb_av]"), "body_height": (65.0, "[in_i]")})
    r = _by_outcome(assess(t, on=ON), "prevent")["heart_failure_10y"]
    used = {i.name: i for i in r.inputs}
    assert used["bmi"].value == pytest.approx(29.9529, abs=1e-3)
    assert {"body_weight", "body_height"} <= set(used)


def test_stopped_medications_do_not_count_as_treatment() -> None:
    t = prevent_1_twin()
    t.medications[0].status = "stopped"
    used = {i.name: i for i in _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"].inputs}
    assert used["bp_treated"].value is False
    t.medications[0].status = "on-hold"
    used = {i.name: i for i in _by_outcome(assess(t, on=ON), "prevent")["ascvd_10y"].inputs}
    assert used["bp_treated"].value is True


def test_unit_spellings_labs_send() -> None:
    from services.risk.units import LAB_UNITS, convert

    assert convert("creatinine", 80.0, "\u03bcmol/L", "x").value == 80.0
    assert convert("creatinine", 1.0, "mg/dl", "x").value == pytest.approx(88.4017)
    assert convert("wbc", 6500, "/uL", "x").value == pytest.approx(6.5)
    assert convert("hba1c_ifcc", 48, "mmol/mol", "x").value == pytest.approx(6.542)
    for spec in LAB_UNITS.values():  # case folding is only safe while no two units differ by case alone
        assert len({u.lower() for u in spec.accepted}) == len(spec.accepted)
