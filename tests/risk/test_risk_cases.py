"""Every reference case in shared/data/risk/cases reproduced within its stated tolerance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.risk import score_case

CASE_FILES = {"prevent_base.json": 2, "pce_2013.json": 5, "phenoage.json": 9, "findrisc.json": 4}


def _tolerance(case: dict[str, Any]) -> float:
    for key in ("tolerance", "tolerance_percent_points", "tolerance_years"):
        if key in case:
            return float(case[key])
    return 0.0


@pytest.mark.parametrize("name", sorted(CASE_FILES))
def test_reference_cases_within_tolerance(shared_data: Path, name: str) -> None:
    cases = json.loads((shared_data / "risk" / "cases" / name).read_text())
    assert len(cases) == CASE_FILES[name]
    for case in cases:
        got = score_case(case["model"], case["inputs"], keys=list(case["expected"]))
        assert list(got) == list(case["expected"]), case["id"]
        tol = _tolerance(case)
        for key, expected in case["expected"].items():
            if isinstance(expected, str):
                assert got[key] == expected, (case["id"], key)
            else:
                assert got[key] == pytest.approx(expected, abs=tol + 1e-12), (case["id"], key)


def test_pce_individual_sums_match_the_guideline_checks(shared_data: Path) -> None:
    from services.risk import pce

    for case in json.loads((shared_data / "risk" / "cases" / "pce_2013.json").read_text()):
        i = case["inputs"]
        x = pce.PceInputs(
            age=i["age_years"],
            sex=i["sex"],
            race=i["race"],
            total_chol=i["total_chol_mg_dL"],
            hdl=i["hdl_mg_dL"],
            sbp=i["sbp_mmHg"],
            bp_treated=i["bp_treated"],
            smoker=i["current_smoker"],
            diabetes=i["diabetes"],
        )
        assert pce.individual_sum(x) == pytest.approx(case["check"]["individual_sum"], abs=0.05), case["id"]
        assert 100 * pce.risk(x) == pytest.approx(case["check"]["recomputed_percent"], abs=0.001), case["id"]


def test_phenoage_si_conversions_match_the_cases(shared_data: Path) -> None:
    from services.risk.units import convert

    for case in json.loads((shared_data / "risk" / "cases" / "phenoage.json").read_text()):
        si = case.get("si_inputs_used")
        if not si:
            continue
        i = case["inputs"]
        assert convert("albumin", i["albumin_g_dL"], "g/dL", "x").value == pytest.approx(si["albumin_g_L"])
        assert convert("creatinine", i["creatinine_mg_dL"], "mg/dL", "x").value == pytest.approx(
            si["creatinine_umol_L"], abs=1e-3
        )
        assert convert("glucose", i["glucose_mg_dL"], "mg/dL", "x").value == pytest.approx(si["glucose_mmol_L"])
