"""Outside-call TSV validation (PharmCAT's rules) and the warning when an outside call replaces the VCF call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.pgx import PGxFileError, outside_call, read_outside_calls
from tests.pgx.conftest import write_vcf
from tests.pgx.test_cli_bad_input import twinrx

STAR2_HET = ["chr10 94775367 A G 0/1", "chr10 94781859 G A 0/1", "chr10 94842866 A G 1/1"]  # CYP2C19 *1/*2


def test_outside_call_replacing_the_vcf_call_warns_in_json_and_table(tmp_path: Path) -> None:
    write_vcf(tmp_path / "good.vcf", STAR2_HET)
    (tmp_path / "oc.tsv").write_text("CYP2C19\t*1/*1\n", encoding="utf-8")
    result = twinrx("pgx", "call", "good.vcf", "--outside-calls", "oc.tsv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    gene = json.loads(result.stdout)["samples"]["S1"]["genes"]["CYP2C19"]
    assert (gene["diplotypes"], gene["phenotype"], gene["method"]) == (["*1/*1"], "Normal Metabolizer", "outside-call")
    assert gene["warnings"] == ["CYP2C19: outside call *1/*1 replaces the VCF call *1/*2"]
    table = twinrx("pgx", "call", "good.vcf", "--outside-calls", "oc.tsv", "--format", "table", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.endswith("\nwarnings:\n  S1 CYP2C19: outside call *1/*1 replaces the VCF call *1/*2\n")


def test_same_outside_call_as_the_vcf_adds_no_warning(tmp_path: Path) -> None:
    write_vcf(tmp_path / "good.vcf", STAR2_HET)
    (tmp_path / "oc.tsv").write_text("CYP2C19\t*2/*1\n", encoding="utf-8")
    result = twinrx("pgx", "call", "good.vcf", "--outside-calls", "oc.tsv", cwd=tmp_path)
    gene = json.loads(result.stdout)["samples"]["S1"]["genes"]["CYP2C19"]
    assert (gene["diplotypes"], gene["warnings"]) == (["*1/*2"], [])


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "o.tsv"
    bad.write_bytes(b"CYP2C9\t*1/*1\nCYP2D6\t*1/*4\xff\n")
    with pytest.raises(PGxFileError) as err:
        read_outside_calls(bad)
    assert str(err.value) == f"{bad}:2: not UTF-8 text (byte 0xff)"


def test_excel_bom_and_trailing_empty_cells_are_accepted(tmp_path: Path) -> None:
    tsv = tmp_path / "o.tsv"
    tsv.write_bytes("\ufeffCYP2D6\t*1/*4\t\t\t\t\nHLA-B\t*57:01:01/*44:02\nMT-RNR1\t1555A>G\n".encode())
    calls = {r.gene: r for r in read_outside_calls(tsv)}
    assert (calls["CYP2D6"].diplotypes, calls["CYP2D6"].phenotype) == (["*1/*4"], "Intermediate Metabolizer")
    assert calls["HLA-B"].diplotypes == ["*44:02/*57:01"]  # HLA's free allele vocabulary still accepted
    assert calls["MT-RNR1"].diplotypes == ["m.1555A>G"]


def test_activity_score_without_diplotype_still_accepted(tmp_path: Path) -> None:
    tsv = tmp_path / "o.tsv"
    tsv.write_text("CYP2D6\t\t\t1.0\nCYP2C9\t\t\t≥3.75\n", encoding="utf-8")
    calls = {r.gene: r for r in read_outside_calls(tsv)}
    assert (calls["CYP2D6"].phenotype, calls["CYP2D6"].lookup_key) == ("Intermediate Metabolizer", "1.0")
    assert calls["CYP2C9"].warnings == ["CYP2C9: reported activity score not recognised"]


def test_cyp4f2_outside_call_is_checked_and_ordered_like_the_vcf_caller() -> None:
    # CYP4F2 has allele definitions but no CPIC phenotype table: a lab's "*3/*1" reads "*1/*3" as the
    # VCF caller writes it (warfarin cards showed both spellings), with no "not in the knowledge base" note
    result = outside_call("CYP4F2", "*3/*1")
    assert (result.diplotypes, result.phenotype, result.warnings) == (["*1/*3"], None, [])
    unknown = outside_call("CYP4F2", "*3/*99")
    assert unknown.warnings == ["CYP4F2: allele(s) *99 not defined in the knowledge base; no phenotype assigned"]
