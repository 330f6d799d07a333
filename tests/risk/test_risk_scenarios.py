"""what_if(): before, after and the (signed, absolute-scale) difference for every result."""

from __future__ import annotations

import pytest

from services.risk import assess, what_if
from services.risk.errors import CaseInputError
from tests.risk._twins import ON, PHENO_10_LABS, PREVENT_1, prevent_1_twin, twin


def _by(deltas: list, model: str, outcome: str):  # type: ignore[no-untyped-def]
    return next(d for d in deltas if d.model == model and d.outcome == outcome)


def test_lowering_sbp_and_starting_a_statin_lowers_cardiovascular_risk() -> None:
    deltas = what_if(prevent_1_twin(), {"systolic_bp": 120, "statin": True}, on=ON)
    assert [(d.model, d.outcome) for d in deltas] == [(r.model, r.outcome) for r in assess(prevent_1_twin(), on=ON)]
    d = _by(deltas, "prevent", "total_cvd_10y")
    assert d.before == pytest.approx(PREVENT_1["total_cvd_10y"], abs=1e-6)
    assert d.after == pytest.approx(0.0738805, abs=1e-6)
    assert d.difference == pytest.approx(-0.0729589, abs=1e-6)
    pce = _by(deltas, "pce", "ascvd_10y")
    assert pce.after == pytest.approx(0.0362071, abs=1e-6)
    pheno = _by(deltas, "phenoage", "phenoage_years")
    assert pheno.difference is None and pheno.status_after == "missing-inputs"
    assert pheno.reason is not None and pheno.reason.startswith("missing: albumin")


def test_stopping_smoking() -> None:
    deltas = what_if(prevent_1_twin(smoking="current"), {"smoking": False}, on=ON)
    d = _by(deltas, "prevent", "total_cvd_10y")
    assert d.before == pytest.approx(0.2343020, abs=1e-6)
    assert d.after == pytest.approx(PREVENT_1["total_cvd_10y"], abs=1e-6)


def test_statin_changes_the_statin_input_only_where_the_model_has_one() -> None:
    deltas = what_if(prevent_1_twin(), {"statin": True}, on=ON)
    assert _by(deltas, "prevent", "ascvd_10y").difference != 0
    assert _by(deltas, "prevent", "heart_failure_10y").difference == 0
    assert _by(deltas, "pce", "ascvd_10y").difference == 0


def test_glucose_moves_phenoage() -> None:
    t = twin(age=73, gender="female", labs=PHENO_10_LABS)
    d = _by(what_if(t, {"glucose": 90}, on=ON), "phenoage", "phenoage_years")
    assert d.before == pytest.approx(73.449827, abs=1e-4)
    assert d.after is not None and d.difference is not None and d.difference < -2


def test_a_change_into_an_unvalidated_range_reports_why() -> None:
    d = _by(what_if(prevent_1_twin(), {"systolic_bp": 85}, on=ON), "prevent", "ascvd_10y")
    assert d.after is None and d.difference is None
    assert d.reason == "PREVENT is validated for systolic BP 90-180 mm[Hg] (got 85)"


def test_bad_changes_are_refused() -> None:
    with pytest.raises(CaseInputError) as err:
        what_if(prevent_1_twin(), {"ldl": 100}, on=ON)
    assert str(err.value) == (
        "ldl: cannot be changed in a scenario (changeable: systolic_bp, total_cholesterol, hdl_cholesterol, bmi, "
        "hba1c, glucose, smoking, statin)"
    )
    with pytest.raises(CaseInputError) as err:
        what_if(prevent_1_twin(), {"statin": "yes"}, on=ON)
    assert str(err.value) == "statin: must be true or false (got 'yes')"
    with pytest.raises(CaseInputError):
        what_if(prevent_1_twin(), {"systolic_bp": True}, on=ON)
