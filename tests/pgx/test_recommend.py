"""recommend(), resolve_drug(), profile() and the FHIR builders on the demo drugs."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import services.pgx as pgx
from services.common.twin import GeneResult, GenotypeInput, SourceRef
from services.pgx import outside_call, profile, recommend, resolve_drug
from services.pgx.fhir import genotype_observation, implication_observation, provenance

REPO = Path(__file__).resolve().parents[2]


def _p(**calls: str) -> dict[str, GeneResult]:
    return {gene: outside_call(gene, d) for gene, d in calls.items()}


def test_exported_members() -> None:
    # every exported name is public, listed once and really defined by the package
    assert len(set(pgx.__all__)) == len(pgx.__all__)
    assert [n for n in pgx.__all__ if n.startswith("_") or not hasattr(pgx, n)] == []
    for name in ("call_vcf", "profile", "outside_call", "recommend", "resolve_drug", "drugs_with_guidance"):
        assert name in pgx.__all__


def test_resolve_drug_by_code_name_text_and_brand() -> None:
    assert resolve_drug("32968") == pgx.Drug(name="clopidogrel", rxnorm="32968")
    assert resolve_drug("213169") == pgx.Drug(name="clopidogrel", rxnorm="32968")  # SCD/SBD from the sandbox
    assert resolve_drug("clopidogrel 75 MG Oral Tablet") == pgx.Drug(name="clopidogrel", rxnorm="32968")
    assert resolve_drug("Simvastatin 20 MG Oral Tablet [Zocor]") == pgx.Drug(name="simvastatin", rxnorm="36567")
    assert resolve_drug("Plavix") == pgx.Drug(name="clopidogrel", rxnorm="32968")
    assert resolve_drug("lisinopril 10 MG Oral Tablet") is None
    assert pgx.genes_for_drug(pgx.Drug(name="azathioprine")) == ["NUDT15", "TPMT"]


def test_clopidogrel_poor_metabolizer_uses_alternative() -> None:
    g = recommend("clopidogrel 75 MG Oral Tablet", _p(CYP2C19="*2/*2"))
    assert g.status == "actionable"
    acs = next(r for r in g.recommendations if r.population == "CVI ACS PCI")
    assert (acs.action, acs.strength, acs.lookup) == ("use-alternative", "Strong", {"CYP2C19": "Poor Metabolizer"})
    assert [(a.name, a.rxnorm) for a in acs.alternatives] == [("prasugrel", "613391"), ("ticagrelor", "1116632")]
    assert acs.guideline_url == "https://www.pharmgkb.org/guidelineAnnotation/PA166104948"
    assert "PMID:35034351" in acs.citations


def test_clopidogrel_normal_metabolizer_is_standard() -> None:
    g = recommend("32968", _p(CYP2C19="*1/*1"))
    acs = next(r for r in g.recommendations if r.population == "CVI ACS PCI")
    assert (acs.status, acs.action) == ("standard", "standard")


def test_simvastatin_decreased_function() -> None:
    g = recommend("104491", _p(SLCO1B1="*1/*5"))
    (rec,) = g.recommendations
    assert (g.status, rec.action, rec.strength, rec.lookup) == (
        "actionable",
        "use-alternative",
        "Strong",
        {"SLCO1B1": "Decreased Function"},
    )


def test_capecitabine_dpyd_intermediate_reduces_dose_by_half() -> None:
    g = recommend("capecitabine", _p(DPYD="c.1905+1G>A (*2A)/Reference"))
    (rec,) = g.recommendations
    assert (rec.action, rec.dose_change_percent, rec.strength, rec.lookup) == (
        "reduce-dose",
        -50,
        "Strong",
        {"DPYD": "1.0"},
    )


def test_azathioprine_tpmt_poor_without_nudt15_uses_no_result_row() -> None:
    g = recommend("azathioprine", _p(TPMT="*3A/*3A"))
    (rec,) = g.recommendations
    assert rec.lookup == {"NUDT15": "No Result", "TPMT": "Poor Metabolizer"}
    assert (rec.action, rec.strength) == ("use-alternative", "Strong")


def test_warfarin_points_to_the_dosing_algorithm_and_dpwg() -> None:
    g = recommend("warfarin", _p(CYP2C9="*1/*3", VKORC1="rs9923231 variant (T)/rs9923231 reference (C)"))
    cpic = [r for r in g.recommendations if r.source == "CPIC"]
    assert [(r.action, r.dose_change_percent) for r in cpic] == [("see-dosing-algorithm", None)]
    assert cpic[0].lookup == {"CYP2C9": "1.0", "VKORC1": "-1639 AG"}
    dpwg = {r.genes[0]: r for r in g.recommendations if r.source == "DPWG"}
    assert (dpwg["CYP2C9"].action, dpwg["CYP2C9"].dose_change_percent) == ("reduce-dose", -35)
    assert dpwg["VKORC1"].action == "standard"


def test_no_guidance_and_unknown_genotype() -> None:
    assert recommend("lisinopril 10 MG Oral Tablet", {}).status == "no-guidance"
    assert recommend("clopidogrel", {}).status == "genotype-unknown"
    unknown = outside_call("CYP2C19", "*99/*2")
    assert unknown.phenotype is None and unknown.warnings
    assert recommend("clopidogrel", {"CYP2C19": unknown}).status == "genotype-unknown"


def test_indeterminate_when_candidates_disagree() -> None:
    result = GeneResult(gene="UGT1A1", diplotypes=["*6/*80", "*6/*80+*28"], phenotype="Indeterminate")
    g = recommend("atazanavir", {"UGT1A1": result})
    assert g.status == "indeterminate"
    assert g.recommendations[0].candidates == ["UGT1A1 *6/*80", "UGT1A1 *6/*80+*28"]


def test_hla_b_status() -> None:
    g = recommend("abacavir", _p(**{"HLA-B": "*57:01 positive"}))
    assert (g.status, g.recommendations[0].action) == ("actionable", "avoid")
    g = recommend("abacavir", _p(**{"HLA-B": "*15:02/*44:02"}))
    assert g.recommendations[0].action == "standard"


def test_profile_outside_call_overrides_vcf(shared_data: Path) -> None:
    vcf = shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testCyp2c19_s1s2.vcf"
    obs = SourceRef(resource_type="Observation", id="g1", date=datetime(2024, 1, 1, tzinfo=UTC))
    inputs = [
        GenotypeInput(kind="vcf", vcf_path=str(vcf), source=SourceRef(resource_type="DocumentReference", id="d1")),
        GenotypeInput(kind="diplotype", gene="CYP2C19", diplotype="*2/*2", source=obs),
    ]
    prof = profile(inputs)
    assert (prof["CYP2C19"].diplotypes, prof["CYP2C19"].method) == (["*2/*2"], "fhir-genotype")
    assert prof["TPMT"].method == "vcf" and prof["TPMT"].source is not None


def test_fhir_outputs_are_stable() -> None:
    result = outside_call("CYP2C19", "*2/*2")
    a = genotype_observation(result, "Patient/1")
    assert a == genotype_observation(result, "Patient/1")
    assert a["code"]["coding"][0]["code"] == "84413-4"
    assert a["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "HGNC:2621"
    rec = recommend("clopidogrel", {"CYP2C19": result}).recommendations[0]
    imp = implication_observation(rec, "Patient/1", f"Observation/{a['id']}")
    assert imp["identifier"][0]["system"] == "urn:twinrx:pgx"
    assert {"system": "http://loinc.org", "code": "LA9657-3", "display": "Poor metabolizer"} in [
        c for comp in imp["component"] for c in comp.get("valueCodeableConcept", {}).get("coding", [])
    ]
    prov = provenance([f"Observation/{a['id']}"], sources=["Observation/g1"], recorded=datetime(2024, 1, 1, tzinfo=UTC))
    assert prov["target"] == [{"reference": f"Observation/{a['id']}"}]
    # Produced resources are valid R4 (fhir.resources R4B models).
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.provenance import Provenance

    Observation.model_validate(a)
    Observation.model_validate(imp)
    Provenance.model_validate(prov)


def test_kb_rebuild_is_reproducible(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kb"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_kb.py"), "--shared", str(shared_data.parent), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    committed = REPO / "services" / "pgx" / "kb"
    files = sorted(p.relative_to(committed) for p in committed.rglob("*.json"))
    assert files == sorted(p.relative_to(out) for p in out.rglob("*.json"))
    _, mismatch, errors = filecmp.cmpfiles(committed, out, [str(f) for f in files], shallow=False)
    assert (mismatch, errors) == ([], [])
    assert pgx.kb_meta()["sources"]["pharmcat-definitions"]["commit"] == "5431bf1187e50383df7e7db18ef67b36fc8b562e"


def test_pharmcat_example_matches_its_report(shared_data: Path) -> None:
    misc = shared_data / "pgx" / "pharmcat-misc"
    report = pgx.call_vcf(misc / "pharmcat.example.vcf", outside_calls=misc / "pharmcat.example.outsideCall.tsv")
    sample = next(iter(report.samples))
    rows = [line.split("\t") for line in (misc / "pharmcat.example.report.tsv").read_text().splitlines()[2:]]
    for gene, diplotype, phenotype, *_ in rows:
        ours = report.samples[sample][gene]
        # CFTR's reference is displayed as "Reference" (PharmCAT's CftrTest); the raw name is in diplotypes.
        assert ours.diplotypes == [diplotype], gene
        assert (ours.phenotype or "").strip() == phenotype.strip(), gene


def test_fhir_text_for_unphased_dpyd_variant_list(shared_data: Path) -> None:
    report = pgx.call_vcf(shared_data / "pgx" / "cases" / "vcf" / "DpydTest__testDpydUnphased.vcf")
    result = next(iter(report.samples.values()))["DPYD"]
    obs = genotype_observation(result, "Patient/1")
    assert obs["valueCodeableConcept"]["text"] == "DPYD variants (unphased): c.1627A>G (*5); c.1905+1G>A (*2A)"


def test_profile_refuses_an_ambiguous_multi_sample_vcf(tmp_path: Path) -> None:
    from services.pgx import PGxValueError
    from tests.pgx.conftest import write_vcf

    vcf = write_vcf(tmp_path / "two.vcf", ["chr10 94781859 G A 0/1 0/0"], samples=("A", "B"))
    source = SourceRef(resource_type="DocumentReference", id="d1")
    with pytest.raises(PGxValueError, match="the VCF holds 2 samples: the genotype input must name one"):
        profile([GenotypeInput(kind="vcf", vcf_path=str(vcf), source=source)])
    prof = profile([GenotypeInput(kind="vcf", vcf_path=str(vcf), sample="B", source=source)])
    assert prof["CYP2C19"].source == source
