"""Bad input to ``twinrx pgx``: one line on stderr naming the file/line/field or value, and the exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pgx.conftest import write_vcf

ROOT = Path(__file__).resolve().parents[2]
SITE = "chr10 94775367 A G"  # CYP2C19*2 region, one ALT allele; record on line 4 of write_vcf's file


def twinrx(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("[W::", "[E::"))]  # htslib
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("gt", "message"),
    [
        ("foo", "invalid genotype 'foo'"),
        ("-1/1", "invalid genotype '-1/1'"),
        ("0/5", "allele index 5 but the record has 1 ALT allele"),
        ("1|x", "invalid genotype '1|x'"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_bad_genotype_is_one_line(tmp_path: Path, gt: str, message: str, compressed: bool) -> None:
    vcf = write_vcf(tmp_path / "bad.vcf", [f"{SITE} {gt}"])
    name = "bad.vcf"
    if compressed:
        import gzip

        with gzip.open(tmp_path / "bad.vcf.gz", "wb") as out:
            out.write(vcf.read_bytes())
        name = "bad.vcf.gz"
    result = twinrx("pgx", "call", name, cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == f"twinrx: error: {name}:4 (GT): {message}"
    assert result.stdout == ""


def test_bad_genotype_in_tabix_and_csi_indexed_files(tmp_path: Path) -> None:
    if shutil.which("bgzip") is None or shutil.which("tabix") is None:
        pytest.skip("bgzip/tabix not installed (apt-get install tabix)")
    for gt, message in (
        ("0/5", "allele index 5 but the record at chr10:94775367 has 1 ALT allele"),
        ("foo", "invalid genotype 'foo' at chr10:94775367"),
    ):
        for flag in ("", "-C"):
            work = tmp_path / f"{flag or 'tbi'}-{gt.replace('/', '')}"
            work.mkdir()
            vcf = write_vcf(work / "bad.vcf", [f"{SITE} {gt}"])
            subprocess.run(["bgzip", str(vcf)], check=True)
            subprocess.run(["tabix", *([flag] if flag else []), "-p", "vcf", str(work / "bad.vcf.gz")], check=True)
            result = twinrx("pgx", "call", "bad.vcf.gz", cwd=work)
            assert result.returncode == 2, result.stderr
            line = error_line(result)
            if flag and gt == "foo":  # htslib (CSI index) refuses the record itself
                assert line.startswith("twinrx: error: bad.vcf.gz: cannot read region chr10:")
            else:
                assert line == f"twinrx: error: bad.vcf.gz (GT): {message}"


def test_missing_genotype_is_still_missing(tmp_path: Path) -> None:
    write_vcf(tmp_path / "ok.vcf", [f"{SITE} ./."])
    result = twinrx("pgx", "call", "ok.vcf", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_misspelt_drug_is_not_found(tmp_path: Path) -> None:
    result = twinrx("pgx", "recommend", "--drug", "clopidogrell", "--diplotype", "CYP2C19=*2/*2", cwd=tmp_path)
    assert result.returncode == 3
    assert error_line(result) == "twinrx: error: unknown drug 'clopidogrell' (did you mean clopidogrel?)"
    assert result.stdout == ""
    text = twinrx("pgx", "recommend", "--drug", "Plavx 75 MG Oral Tablet", "--diplotype", "CYP2C19=*2/*2", cwd=tmp_path)
    assert (text.returncode, error_line(text)) == (
        3,
        "twinrx: error: unknown drug 'Plavx 75 MG Oral Tablet' (did you mean plavix?)",
    )


def test_drug_without_guidance_says_so_on_stderr(tmp_path: Path) -> None:
    result = twinrx("pgx", "recommend", "--drug", "amoxicillin", "--diplotype", "CYP2C19=*2/*2", cwd=tmp_path)
    assert result.returncode == 0
    assert error_line(result) == "twinrx: note: no PGx guidance for 'amoxicillin' (drug not in the knowledge base)"
    assert json.loads(result.stdout)["status"] == "no-guidance"


def test_known_drug_prints_nothing_on_stderr(tmp_path: Path) -> None:
    result = twinrx("pgx", "recommend", "--drug", "clopidogrel", "--diplotype", "CYP2C19=*2/*2", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["status"] == "actionable"


@pytest.mark.parametrize("drug", ["", "  "])
def test_empty_drug_is_a_usage_error(tmp_path: Path, drug: str) -> None:
    result = twinrx("pgx", "recommend", "--drug", drug, "--diplotype", "CYP2C19=*2/*2", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == (
        "twinrx: error: --drug: empty drug: give an RxNorm code, ingredient name or clinical-drug text"
    )


def test_unknown_gene_in_diplotype_is_an_error(tmp_path: Path) -> None:
    result = twinrx("pgx", "recommend", "--drug", "clopidogrel", "--diplotype", "FOO1=*1/*1", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == "twinrx: error: --diplotype: unknown gene 'FOO1' (not in the knowledge base)"
    assert result.stdout == ""


def test_unknown_allele_keeps_the_result_and_warns_on_stderr(tmp_path: Path) -> None:
    result = twinrx("pgx", "recommend", "--drug", "clopidogrel", "--diplotype", "CYP2C19=*999/*2", cwd=tmp_path)
    assert result.returncode == 0
    assert error_line(result) == (
        "twinrx: warning: CYP2C19: allele(s) *999 not defined in the knowledge base; no phenotype assigned"
    )
    assert json.loads(result.stdout)["status"] == "genotype-unknown"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "CYP2D6",
            "o.tsv:2 (diplotype): CYP2D6 has no diplotype column"
            " (expected gene<TAB>diplotype; 'gene<TAB>' for no call)",
        ),
        ("CYP2D6 *4/*4", "o.tsv:2 (gene): gene and diplotype must be separated by a tab, got 'CYP2D6 *4/*4'"),
        ("FOO1\t*1/*1", "o.tsv:2 (gene): unknown gene 'FOO1'"),
        # the allele vocabulary, column count and activity score are checked like PharmCAT does
        ("CYP2D6\tgarbage", "o.tsv:2 (diplotype): 'garbage' is not a CYP2D6 diplotype: unknown allele 'garbage'"),
        (
            "CYP2D6\tPoor Metabolizer",
            "o.tsv:2 (diplotype): 'Poor Metabolizer' is not a CYP2D6 diplotype: unknown allele 'Poor Metabolizer'"
            " (a phenotype: it belongs in the phenotype column)",
        ),
        (
            "CYP2D6\t*1/*4 *2/*4",
            "o.tsv:2 (diplotype): '*1/*4 *2/*4' is not a CYP2D6 diplotype: unknown allele '*4 *2/*4'"
            " (one diplotype per gene)",
        ),
        ("CYP2D6\t*1/*999", "o.tsv:2 (diplotype): '*1/*999' is not a CYP2D6 diplotype: unknown allele '*999'"),
        ("CYP2D6\t*4", "o.tsv:2 (diplotype): '*4' is a single allele; a CYP2D6 diplotype is allele/allele"),
        (
            "CYP2D6\t*1/*4\tIntermediate Metabolizer\t1.0\textra\tmore",
            "o.tsv:2 (columns): the row has 6 columns; expected at most 4 (gene, diplotype, phenotype, activity score)",
        ),
        ("CYP2D6\t\t\tabc", "o.tsv:2 (activity score): activity score 'abc' is not a number"),
        ("HLA-B\tfoo", "o.tsv:2 (diplotype): 'foo' is not an HLA genotype or allele status"),
    ],
)
def test_malformed_outside_call_row(tmp_path: Path, row: str, message: str) -> None:
    write_vcf(tmp_path / "a.vcf", [f"{SITE} 0/1"])
    (tmp_path / "o.tsv").write_text(f"CYP2C9\t*1/*1\n{row}\n", encoding="utf-8")
    result = twinrx("pgx", "call", "a.vcf", "--outside-calls", "o.tsv", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == f"twinrx: error: {message}"
    assert result.stdout == ""


def test_outside_call_gene_with_empty_diplotype_is_a_no_call(tmp_path: Path) -> None:
    write_vcf(tmp_path / "a.vcf", [f"{SITE} 0/1"])
    (tmp_path / "o.tsv").write_text("CYP2D6\t\n", encoding="utf-8")
    result = twinrx("pgx", "call", "a.vcf", "--outside-calls", "o.tsv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_directory_inputs_say_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    write_vcf(tmp_path / "a.vcf", [f"{SITE} 0/1"])
    cases = [
        (("pgx", "call", "d"), "twinrx: error: d: is a directory, not a VCF/BCF file"),
        (("pgx", "call", "a.vcf", "--outside-calls", "d"), "twinrx: error: d: is a directory, not an outside-call TSV"),
        (
            ("pgx", "recommend", "--drug", "clopidogrel", "--call-json", "d"),
            "twinrx: error: d: is a directory, not a call JSON",
        ),
    ]
    for args, message in cases:
        result = twinrx(*args, cwd=tmp_path)
        assert (result.returncode, error_line(result)) == (2, message)
    missing = twinrx("pgx", "call", "nope.vcf", cwd=tmp_path)
    assert (missing.returncode, error_line(missing)) == (2, "twinrx: error: nope.vcf: file not found")


def test_recommend_refuses_one_gene_given_twice_with_different_diplotypes(tmp_path: Path) -> None:
    args = ["pgx", "recommend", "--drug", "clopidogrel", "--diplotype", "CYP2C19=*2/*2", "--diplotype"]
    result = twinrx(*args, "CYP2C19=*1/*1", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "CYP2C19 is given twice with different diplotypes" in error_line(result)
