"""Bad risk inputs are named, not guessed: duplicate inputs that disagree, limits in the unit sent, a floored
CRP said aloud, an unchecked PRS build warned about on stderr, and malformed scoring-file rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.risk.cases import score_case, score_case_explained
from services.risk.errors import CaseInputError, ImpossibleValueError, ScoreFileError
from services.risk.prs import read_scoring_file
from services.risk.units import convert

TWINRX = [sys.executable, "-m", "services.cli"]
_PREVENT = {"age_years": 50, "sex": "female", "sbp_mmHg": 160, "bp_treated": True, "diabetes": True,
            "current_smoker": False, "egfr_mL_min_1_73m2": 90, "total_chol_mg_dL": 200, "hdl_mg_dL": 45,
            "statin": False, "bmi_kg_m2": 35}  # fmt: skip
_PHENO = {"age_years": 50.0, "sex": "male", "albumin_g_dL": 4.4, "creatinine_mg_dL": 0.9, "glucose_mg_dL": 92.0,
          "crp_mg_dL": 0, "lymphocyte_percent": 30, "mcv_fL": 90, "rdw_percent": 13, "alp_U_L": 63.0,
          "wbc_10e3_per_uL": 6.0}  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TWINRX, *args], capture_output=True, text=True, timeout=120, check=False)


def test_conflicting_duplicate_inputs_are_an_error_naming_both(tmp_path: Path) -> None:
    with pytest.raises(CaseInputError) as err:
        score_case("prevent", {**_PREVENT, "total_chol_mmol_L": 9.0})
    assert str(err.value) == (
        "total_chol_mg_dL, total_chol_mmol_L: total_chol_mg_dL 200 and total_chol_mmol_L 9 disagree "
        "(200 vs 348 mg/dL); give one of them"
    )
    path = tmp_path / "case.json"
    path.write_text(json.dumps({**_PREVENT, "total_chol_mmol_L": 9.0}))
    proc = _run("risk", "score", "prevent", "--inputs", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"twinrx: error: {path}: total_chol_mg_dL, total_chol_mmol_L: total_chol_mg_dL 200")


def test_duplicate_inputs_that_agree_within_rounding_are_accepted() -> None:
    alone = score_case("prevent", _PREVENT)
    # 5.2 mmol/L (one decimal: 5.15-5.25) is 199-203 mg/dL; 1.2 mmol/L HDL covers 45 mg/dL.
    both = score_case("prevent", {**_PREVENT, "total_chol_mmol_L": 5.2, "hdl_mmol_L": 1.2})
    assert both["ascvd_10y"] == alone["ascvd_10y"] == pytest.approx(0.091951, abs=1e-6)
    with pytest.raises(CaseInputError, match="total_chol_mmol_L 5.3 disagree"):
        score_case("prevent", {**_PREVENT, "total_chol_mmol_L": 5.3})


@pytest.mark.parametrize(
    ("name", "value", "unit", "limits"),
    [
        ("albumin", 44.0, "g/dL", "must be between 0.5 and 8 g/dL, i.e. 5 and 80 g/L"),
        ("total_cholesterol", 200.0, "mmol/L", "must be between 0.02586 and 38.79 mmol/L, i.e. 1 and 1500 mg/dL"),
        ("total_cholesterol", 5000.0, "mg/dL", "must be between 1 and 1500 mg/dL"),
    ],
)
def test_impossible_value_limits_are_stated_in_the_unit_sent(name: str, value: float, unit: str, limits: str) -> None:
    with pytest.raises(ImpossibleValueError) as err:
        convert(name, value, unit, "Observation/x")
    assert str(err.value) == f"Observation/x: {name} {value:g} {unit} is impossible ({limits})"


def test_crp_zero_keeps_the_number_and_says_it_was_floored(tmp_path: Path) -> None:
    notes: list[str] = []
    result, reasons = score_case_explained("phenoage", _PHENO, notes=notes)
    floored, _ = score_case_explained("phenoage", {**_PHENO, "crp_mg_dL": 0.01})
    assert result["phenoage_levine_lncrp"] == floored["phenoage_levine_lncrp"]
    assert reasons == {}
    assert notes == [
        "crp_mg_dL 0 is below the CRP detection limit: ln CRP uses the floor 0.01 mg/dL (0.1 mg/L) in the "
        "Levine outputs (phenoage_bioage_ln1pcrp uses ln(1 + CRP), no floor)"
    ]
    path = tmp_path / "pheno.json"
    path.write_text(json.dumps(_PHENO))
    proc = _run("risk", "score", "phenoage", "--inputs", str(path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["phenoage_levine_lncrp"] == pytest.approx(result["phenoage_levine_lncrp"])
    assert out["notes"] == notes
    assert proc.stderr == f"twinrx: note: {path}: {notes[0]}\n"


def _score_file(tmp_path: Path, *rows: str, build: str = "GRCh38") -> Path:
    path = tmp_path / "s_b38.txt"
    header = "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\textra_column"
    path.write_text("\n".join([f"#genome_build={build}", header, *rows]) + "\n")
    return path


def test_prs_with_unchecked_build_warns_on_stderr(tmp_path: Path) -> None:
    score = _score_file(tmp_path, "1\t1000\tG\tA\t0.5\tignored", "1\t2000\tC\tT\t-0.3\tignored")
    vcf = tmp_path / "g.vcf"
    vcf.write_text(
        '##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "1\t1000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t2000\t.\tT\tC\t.\tPASS\t.\tGT\t1/1\n"
    )
    proc = _run("risk", "prs", "--score", str(score), "--vcf", str(vcf))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["samples"][0]["scores"]["s_b38"]["sum"] == pytest.approx(0.5 - 0.6)
    assert "twinrx: warning: genome build not checked (scoring file: GRCh38; VCF: " in proc.stderr
    assert proc.stderr.rstrip().endswith("give --vcf-build to check it")
    tsv = _run("risk", "prs", "--score", str(score), "--vcf", str(vcf), "--format", "tsv")
    assert "# note: genome build not checked (scoring file: GRCh38" in tsv.stdout
    assert "twinrx: warning: genome build not checked" in tsv.stderr
    checked = _run("risk", "prs", "--score", str(score), "--vcf", str(vcf), "--vcf-build", "GRCh38")
    assert checked.returncode == 0 and checked.stderr == ""


def test_short_row_names_its_column_count(tmp_path: Path) -> None:
    path = _score_file(tmp_path, "1\t1000\tG\tA\t0.5\tx", "1\t2000\tC")
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(path)
    assert str(err.value) == (
        f"{path}: line 4: the row has 3 columns, expected 6 "
        "(chr_name, chr_position, effect_allele, other_allele, effect_weight, extra_column)"
    )


def test_effect_allele_must_be_nucleotides(tmp_path: Path) -> None:
    path = _score_file(tmp_path, "1\t1000\tZ\tA\t0.5\tx")
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(path)
    assert str(err.value) == f"{path}: line 3: effect_allele 'Z' is not an allele (a string of A, C, G, T)"


def test_bad_numbers_name_the_column(tmp_path: Path) -> None:
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(_score_file(tmp_path, "1\tabc\tG\tA\t0.5\tx"))
    assert str(err.value).endswith("line 3: chr_position 'abc' is not a whole number")
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(_score_file(tmp_path, "1\t1000\tG\tA\theavy\tx"))
    assert str(err.value).endswith("line 3: effect_weight 'heavy' is not a number")


def test_unknown_extra_columns_are_ignored(tmp_path: Path) -> None:
    sf = read_scoring_file(_score_file(tmp_path, "1\t1000\tG\tA\t0.5\tanything"))
    assert (sf.chrom, sf.pos, sf.effect, sf.other, sf.weights.tolist()) == (["1"], [1000], ["G"], ["A"], [[0.5]])
