"""``twinrx risk score``: unknown input names, out-of-range results with their reason, empty files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.risk.cases import INPUT_KEYS, canonical_model

TWINRX = [sys.executable, "-m", "services.cli"]

_PCE = {"age_years": 55, "sex": "male", "race": "white", "total_chol_mg_dL": 213, "hdl_mg_dL": 50,
        "sbp_mmHg": 120, "bp_treated": False, "current_smoker": False, "diabetes": False}  # fmt: skip
_PREVENT = {"age_years": 50, "sex": "female", "sbp_mmHg": 160, "bp_treated": True, "diabetes": True,
            "current_smoker": False, "egfr_mL_min_1_73m2": 90, "total_chol_mg_dL": 200, "hdl_mg_dL": 45,
            "statin": False, "bmi_kg_m2": 35}  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TWINRX, *args], capture_output=True, text=True, timeout=120, check=False)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data))
    return path


def test_unknown_input_names_key_file_and_case(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "PREVENT-1", "inputs": {**_PREVENT, "hba1c_percnt": 6.1}}])
    proc = _run("risk", "score", "prevent", "--inputs", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"twinrx: error: {path} case PREVENT-1: unknown input 'hba1c_percnt' (known: age_years, sex, sbp_mmHg, "
        "bp_treated, current_smoker, diabetes, egfr_mL_min_1_73m2, total_chol_mg_dL, total_chol_mmol_L, "
        "hdl_mg_dL, hdl_mmol_L, statin, bmi_kg_m2)\n"
    )


def test_unknown_input_in_bare_inputs_and_list_index(tmp_path: Path) -> None:
    path = _write(tmp_path, {**_PCE, "hdl_mg_dl": 50})
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(f"twinrx: error: {path}: unknown input 'hdl_mg_dl' (known: age_years, ")
    path = _write(tmp_path, [{"inputs": _PCE}, {"inputs": {**_PCE, "weight": 80}}])
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"twinrx: error: {path} case 1: unknown input 'weight' (known: ")


def test_bare_inputs_may_carry_an_id(tmp_path: Path) -> None:
    path = _write(tmp_path, {"id": "T9", **_PCE})
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == {"risk_10y_percent"}


def test_every_input_of_the_reference_cases_is_known(shared_data: Path) -> None:
    for file in sorted((shared_data / "risk" / "cases").glob("*.json")):
        for case in json.loads(file.read_text()):
            known = INPUT_KEYS[canonical_model(case["model"])]
            assert set(case["inputs"]) <= set(known), (file.name, case["id"])


def test_reference_cases_print_no_notes(shared_data: Path) -> None:
    cases = shared_data / "risk" / "cases"
    for model, name in (("prevent", "prevent_base"), ("pce", "pce_2013"), ("phenoage", "phenoage"),
                        ("findrisc", "findrisc")):  # fmt: skip
        proc = _run("risk", "score", model, "--inputs", str(cases / f"{name}.json"))
        assert (proc.returncode, proc.stderr) == (0, ""), name


def test_out_of_range_value_says_why(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "T3", "inputs": {**_PCE, "total_chol_mg_dL": 5.2}}])
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"risk_10y_percent": None}]
    assert proc.stderr == (
        f"twinrx: note: {path} case T3: risk_10y_percent not applicable: "
        "PCE is validated for total cholesterol 130-320 mg/dL (got 5.2)\n"
    )


def test_prevent_out_of_range_groups_outcomes_by_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, {"id": "P2", "inputs": {**_PREVENT, "total_chol_mg_dL": 5.2}})
    proc = _run("risk", "score", "prevent", "--inputs", str(path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [k for k, v in result.items() if v is None] == ["total_cvd_10y", "ascvd_10y", "total_cvd_30y", "ascvd_30y"]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"twinrx: note: {path} case P2: total_cvd_10y, ascvd_10y, total_cvd_30y, ascvd_30y ")
    assert "total cholesterol" in lines[0]
    assert "(got 5.2" in lines[0]


def test_empty_list_is_no_cases(tmp_path: Path) -> None:
    path = _write(tmp_path, [])
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"twinrx: error: {path}: no cases\n")


def test_a_key_given_twice_is_refused_not_last_wins(tmp_path: Path) -> None:
    # json.loads keeps the last of two equal keys: 160 then 110 would silently score the lower pressure
    text = json.dumps(_PREVENT).replace('"sbp_mmHg": 160', '"sbp_mmHg": 160, "sbp_mmHg": 110')
    path = tmp_path / "dup.json"
    path.write_text(text)
    proc = _run("risk", "score", "prevent", "--inputs", str(path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"twinrx: error: {path}: key 'sbp_mmHg' is given twice in one object\n"
