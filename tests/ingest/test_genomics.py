"""Genomics extraction: IG STU3 genotypes and implications, retired STU1 codings, attachments."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest import build_twin, scan_directory
from services.ingest._genomics import normalise_alleles
from tests.ingest.conftest import DATA


def _inputs(twin_inputs: list[object]) -> list[tuple[object, ...]]:
    return [(g.kind, g.gene, g.diplotype, g.phenotype, g.source.id) for g in twin_inputs]  # type: ignore[attr-defined]


def test_ig_examples_patient(genomics_examples: Path) -> None:
    resources = scan_directory(genomics_examples)["CGPatientExample01"]
    result = build_twin("local:ig", "CGPatientExample01", resources)
    assert result.skipped == []
    assert _inputs(result.twin.genotype_inputs) == [
        ("diplotype", "APOE", "e1/e1", None, "Genotype-Clinical-Trial-Example-using-haplotypes"),
        # ClinVar-coded value; phenotype from the clopidogrel implication (LA9657-3).
        ("diplotype", "CYP2C19", "*2/*2", "Poor Metabolizer", "Pgx-geno-1001"),
        ("diplotype", "CYP2C9", "*1/*1", "Normal Metabolizer", "Pgx-geno-1002"),
        # PharmVar sub-alleles reduce to core alleles.
        ("diplotype", "CYP2D6", "*7/*1", None, "GenotypeExamplePharmVar"),
        ("diplotype", "HLA-B", "*15:02", "High Risk", "GenotypeExample1"),
        ("diplotype", "VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)", None, "Pgx-geno-1003"),
    ]


def test_wrong_hgnc_id_does_not_change_the_gene(genomics_examples: Path) -> None:
    # Observation-Pgx-var-1011 codes CYP2C19 as HGNC:262; the display names the gene.
    resources = scan_directory(genomics_examples)["CGPatientExample01"]
    var = next(r for r in resources if r["id"] == "Pgx-var-1011")
    gene_coding = next(
        c["valueCodeableConcept"]["coding"][0] for c in var["component"] if c["code"]["coding"][0]["code"] == "48018-6"
    )
    assert gene_coding["code"] == "HGNC:262"
    genotype = dict(next(r for r in resources if r["id"] == "Pgx-geno-1001"))
    genotype["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
            "valueCodeableConcept": {"coding": [gene_coding]},
        }
    ]
    twin = build_twin("local:ig", "CGPatientExample01", [genotype]).twin
    assert [(g.gene, g.diplotype) for g in twin.genotype_inputs] == [("CYP2C19", "*2/*2")]


def test_small_pgx_bundle(genomics_examples: Path) -> None:
    resources = scan_directory(genomics_examples)["ExamplePatient"]
    twin = build_twin("local:ig", "ExamplePatient", resources).twin
    assert _inputs(twin.genotype_inputs) == [
        ("diplotype", "CYP2C9", "*4/*35B", "Rapid Metabolizer", "genotype-pgx-example")
    ]


def test_retired_stu1_codings() -> None:
    resources = scan_directory(DATA / "legacy-pgx.json")["legacy1"]
    result = build_twin("local:t", "legacy1", resources)
    # pgx may refuse a phenotype-only call; it is then reported against its Observation, never silently lost.
    assert all(s.reference == "Observation/legacy-2d6" and s.reason.startswith("pgx: ") for s in result.skipped)
    assert _inputs(result.twin.genotype_inputs) == [
        ("diplotype", "CYP2C19", "*1/*2", "Intermediate Metabolizer", "legacy-panel"),
        # 53040-2 with the retired "Extensive metabolizer" answer, no genotype: an outside phenotype call.
        ("diplotype", "CYP2D6", None, "Normal Metabolizer", "legacy-2d6"),
    ]
    assert result.twin.genotype_inputs[0].source.version == "3"


def test_vcf_and_outside_call_attachments(tmp_path: Path) -> None:
    resources = scan_directory(DATA / "attachments.json")["att1"]
    result = build_twin("local:t", "att1", resources, work_dir=tmp_path)
    assert {(s.reference, s.reason) for s in result.skipped} == {
        ("DocumentReference/remote-vcf", "attachment URL cannot be fetched from this source"),
        ("DocumentReference/not-a-vcf", "attachment is labelled VCF but is not a VCF"),
    }
    vcf, *calls = result.twin.genotype_inputs
    assert vcf.kind == "vcf" and vcf.source.id == "vcf-doc"
    assert vcf.vcf_path is not None
    written = Path(vcf.vcf_path)
    assert written.parent == tmp_path
    assert written.read_text().splitlines()[-1] == "chr10\t94781859\trs4244285\tG\tA\t.\tPASS\t.\tGT\t0/1"
    assert [(g.gene, g.diplotype, g.phenotype, g.source.id) for g in calls] == [
        ("CYP2D6", "*1/*4", "Intermediate Metabolizer", "outside-call"),
        ("CYP3A5", "*3/*3", None, "outside-call"),
    ]


def test_attachment_urls_go_through_the_fetcher(tmp_path: Path) -> None:
    resources = scan_directory(DATA / "attachments.json")["att1"]
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

    result = build_twin("local:t", "att1", resources, work_dir=tmp_path, fetch=fetch)
    assert asked == ["https://elsewhere.example/sample.vcf"]
    assert [g.source.id for g in result.twin.genotype_inputs if g.kind == "vcf"] == ["vcf-doc", "remote-vcf"]


@pytest.mark.parametrize(
    ("text", "gene", "expected"),
    [
        ("CYP2C19*2/*2", None, ("CYP2C19", "*2/*2")),
        ("CYP2D6*7.001 / CYP2D6*1.001", None, ("CYP2D6", "*7/*1")),
        ("CYP2C9 *4/*35B", "CYP2C9", ("CYP2C9", "*4/*35B")),
        ("*1/*17", "CYP2C19", ("CYP2C19", "*1/*17")),
        ("VKORC1 rs9923231 T/C", "VKORC1", ("VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)")),
    ],
)
def test_normalise_alleles(text: str, gene: str | None, expected: tuple[str, str]) -> None:
    assert normalise_alleles(text, gene) == expected


def test_pgx_profile_of_the_ig_patient(genomics_examples: Path) -> None:
    twin = build_twin("local:ig", "CGPatientExample01", scan_directory(genomics_examples)["CGPatientExample01"]).twin
    cyp2c19 = twin.pgx["CYP2C19"]
    assert cyp2c19.diplotypes == ["*2/*2"]
    assert cyp2c19.phenotype == "Poor Metabolizer"
    assert twin.pgx["CYP2C9"].diplotypes == ["*1/*1"]
