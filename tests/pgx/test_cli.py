"""``twinrx pgx call`` and ``twinrx pgx recommend`` (the contract other tools depend on)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.pgx.cli import pgx_app
from tests.pgx.conftest import write_vcf

runner = CliRunner()
STAR2_HET = ["chr10 94775367 A G 0/1", "chr10 94781859 G A 0/1", "chr10 94842866 A G 1/1"]


def test_call_json_contract(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "a.vcf", STAR2_HET)
    out = runner.invoke(pgx_app, ["call", str(vcf)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    gene = data["samples"]["S1"]["genes"]["CYP2C19"]
    assert gene["diplotypes"] == ["*1/*2"]
    assert gene["phenotype"] == "Intermediate Metabolizer"
    assert gene["activity_score"] is None
    assert len(gene["missing_positions"]) == 32
    assert "CYP2D6" not in data["samples"]["S1"]["genes"]  # outside calls only
    assert data["samples"]["S1"]["genes"]["NAT2"]["diplotypes"] == ["(not called by matcher)"]


def test_call_table_and_fhir(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "a.vcf", STAR2_HET)
    table = runner.invoke(pgx_app, ["call", str(vcf), "--format", "table"])
    row = next(line.split() for line in table.output.splitlines() if " CYP2C19 " in line)
    assert row[:3] == ["S1", "CYP2C19", "*1/*2"]
    fhir = json.loads(runner.invoke(pgx_app, ["call", str(vcf), "--format", "fhir"]).output)
    codes = {e["resource"]["resourceType"] for e in fhir["entry"]}
    assert codes == {"Observation", "Provenance"}


def test_call_with_outside_calls(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "a.vcf", STAR2_HET)
    tsv = tmp_path / "o.tsv"
    tsv.write_text("CYP2D6\t*4/*4\n", encoding="utf-8")
    data = json.loads(runner.invoke(pgx_app, ["call", str(vcf), "--outside-calls", str(tsv)]).output)
    assert data["samples"]["S1"]["genes"]["CYP2D6"]["phenotype"] == "Poor Metabolizer"
    assert data["samples"]["S1"]["genes"]["CYP2D6"]["method"] == "outside-call"


def test_recommend_from_diplotype_and_call_json(tmp_path: Path) -> None:
    out = runner.invoke(pgx_app, ["recommend", "--drug", "clopidogrel", "--diplotype", "CYP2C19=*2/*2"])
    data = json.loads(out.output)
    assert data["status"] == "actionable"
    vcf = write_vcf(tmp_path / "a.vcf", STAR2_HET)
    calls = tmp_path / "calls.json"
    calls.write_text(runner.invoke(pgx_app, ["call", str(vcf)]).output, encoding="utf-8")
    data = json.loads(runner.invoke(pgx_app, ["recommend", "--drug", "309362", "--call-json", str(calls)]).output)
    acs = next(r for r in data["recommendations"] if r["population"] == "CVI ACS PCI")
    assert (acs["action"], acs["lookup"]) == ("use-alternative", {"CYP2C19": "Intermediate Metabolizer"})
