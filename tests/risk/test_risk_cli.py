"""``twinrx risk score``: the case files' expected keys, one-line errors, non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TWINRX = [sys.executable, "-m", "services.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TWINRX, *args], capture_output=True, text=True, timeout=120, check=False)


def test_score_prints_the_expected_keys_for_every_case(shared_data: Path) -> None:
    cases_dir = shared_data / "risk" / "cases"
    for model, name in (("prevent", "prevent_base"), ("pce", "pce_2013"), ("phenoage", "phenoage"),
                        ("findrisc", "findrisc")):  # fmt: skip
        cases = json.loads((cases_dir / f"{name}.json").read_text())
        proc = _run("risk", "score", model, "--inputs", str(cases_dir / f"{name}.json"))
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout)
        assert [list(r) for r in results] == [list(c["expected"]) for c in cases]
    proc = _run("risk", "score", "findrisc", "--inputs", str(cases_dir / "findrisc.json"))
    assert json.loads(proc.stdout)[2] == {"points": 22, "category": "very high (~50%)"}


def test_single_case_and_bare_inputs(tmp_path: Path) -> None:
    case = {
        "id": "T1",
        "inputs": {"age_years": 55, "sex": "male", "race": "black", "total_chol_mg_dL": 213, "hdl_mg_dL": 50,
                   "sbp_mmHg": 120, "bp_treated": False, "current_smoker": False, "diabetes": False},
        "expected": {"risk_10y_percent": 6.1},
    }  # fmt: skip
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"risk_10y_percent": pytest.approx(6.073437, abs=1e-6)}
    path.write_text(json.dumps(case["inputs"]))
    assert json.loads(_run("risk", "score", "pce", "--inputs", str(path)).stdout) == {
        "risk_10y_percent": pytest.approx(6.073437, abs=1e-6)
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sbp_mmHg": 900},
         "case T2: sbp_mmHg: systolic_bp 900 mm[Hg] is impossible (must be between 40 and 300 mm[Hg])"),
        ({"total_chol_mg_dL": -5},
         "case T2: total_chol_mg_dL: total_cholesterol -5 mg/dL is impossible (must be between 1 and 1500 mg/dL)"),
        ({"bp_treated": "no"}, "case T2: bp_treated: must be true or false (got 'no')"),
        ({"sex": None}, "case T2: sex: must be one of female, male (got None)"),
    ],
)  # fmt: skip
def test_bad_inputs_give_one_line_naming_file_and_field(tmp_path: Path, change: dict, message: str) -> None:
    inputs = {"age_years": 55, "sex": "male", "race": "white", "total_chol_mg_dL": 213, "hdl_mg_dL": 50,
              "sbp_mmHg": 120, "bp_treated": False, "current_smoker": False, "diabetes": False}  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"id": "T2", "inputs": {**inputs, **change}}]))
    proc = _run("risk", "score", "pce", "--inputs", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"twinrx: error: {path} {message}\n"


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    proc = _run("risk", "score", "pce", "--inputs", str(tmp_path / "nope.json"))
    assert (proc.returncode, proc.stderr) == (2, f"twinrx: error: {tmp_path / 'nope.json'}: file not found\n")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = _run("risk", "score", "pce", "--inputs", str(bad))
    assert (proc.returncode, proc.stderr) == (2, f"twinrx: error: {bad}: not valid JSON (line 1, column 2)\n")
    proc = _run("risk", "score", "qrisk", "--inputs", str(bad))
    assert proc.returncode == 2
    assert proc.stderr == "twinrx: error: model: unknown model 'qrisk' (one of prevent, pce, phenoage, findrisc)\n"


def test_prs_json_and_tsv(shared_data: Path, tmp_path: Path) -> None:
    prs = shared_data / "risk" / "prs"
    args = [
        "risk",
        "prs",
        "--score",
        str(prs / "PGS001229_22.txt"),
        "--vcf",
        str(prs / "cineca_synthetic_subset.vcf.gz"),
    ]
    proc = _run(*args, "--sample", "HG00096_HG00096", "--sample", "HG00097_HG00097")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["variants"] == {"total": 835, "matched": 782, "excluded": {"ambiguous": 47}, "unmatched": {"absent": 6}}
    assert [s["sample"] for s in out["samples"]] == ["HG00096_HG00096", "HG00097_HG00097"]
    assert out["samples"][1]["scores"]["PGS001229"]["sum"] == pytest.approx(0.674401, abs=1e-6)
    assert "detail" not in out
    detailed = json.loads(_run(*args, "--sample", "HG00096_HG00096", "--detail").stdout)
    assert len(detailed["detail"]) == 835
    assert detailed["detail"][0]["status"] == "matched" and detailed["detail"][0]["scored_allele"] == "G"
    proc = _run(*args, "--sample", "HG00096_HG00096", "--format", "tsv")
    lines = proc.stdout.splitlines()
    assert lines[1] == "# variants: 782 matched of 835; excluded: ambiguous 47; unmatched: absent 6"
    assert lines[-2] == "sample\tscore\tSUM\tAVG\tALLELE_CT\tDENOM\tPERCENTILE"
    assert lines[-1] == "HG00096_HG00096\tPGS001229\t0.5450201439\t0.0003484783529\t1564\t1564\t"
    # A panel scored the same way gives percentiles.
    panel = tmp_path / "panel.json"
    panel.write_text(_run(*args).stdout)
    proc = _run(*args, "--sample", "HG00096_HG00096", "--reference", str(panel), "--format", "tsv")
    assert proc.stdout.splitlines()[-1].endswith("\t33.69")
    assert "# note: a percentile is only valid against a reference panel of the same genetic ancestry" in proc.stdout


def test_prs_errors_are_one_line(shared_data: Path, tmp_path: Path) -> None:
    prs = shared_data / "risk" / "prs"
    bad = tmp_path / "PGS.txt.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    proc = _run("risk", "prs", "--score", str(bad), "--vcf", str(prs / "cineca_synthetic_subset.vcf.gz"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"twinrx: error: {bad}: corrupt gzip (")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = _run(
        "risk", "prs", "--score", str(prs / "customgrch37.txt"), "--vcf", str(prs / "cineca_synthetic_subset.vcf.gz")
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        f"twinrx: error: {prs / 'customgrch37.txt'}: no scoring-file variant matched the genotypes "
        "(0 of 2; excluded: none; unmatched: absent 2)\n",
    )
    proc = _run("risk", "prs", "--score", str(prs / "PGS001229_22.txt"), "--vcf", str(tmp_path / "none.vcf"))
    assert (proc.returncode, proc.stderr) == (2, f"twinrx: error: {tmp_path / 'none.vcf'}: file not found\n")
