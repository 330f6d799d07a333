"""The planted genotypes call to what the demo intends, with the real pgx library.

VCF patients go through ``services.pgx.call_vcf`` (the same caller the workers use); reported
genotypes go through ``services.pgx.outside_call``. Every patient of the default cohort is checked, so
a change in the knowledge base or in the generator that breaks a planted call fails here.
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from services.demo._design import SHOWCASES
from services.demo.cohort import DEFAULT_PATIENTS, Cohort, generate_cohort
from services.pgx import call_vcf, outside_call

# Showcase label -> (gene, expected diplotype, expected phenotype).
EXPECTED = {
    "CYP2C19 poor metabolizer": ("CYP2C19", "*2/*2", "Poor Metabolizer"),
    "SLCO1B1 decreased function": ("SLCO1B1", "*1/*5", "Decreased Function"),
    "DPYD intermediate metabolizer": ("DPYD", "Reference/c.1905+1G>A (*2A)", "Intermediate Metabolizer"),
    "TPMT poor metabolizer": ("TPMT", "*3A/*3A", "Poor Metabolizer"),
    "CYP2C9 poor metabolizer": ("CYP2C9", "*3/*3", "Poor Metabolizer"),
    "CYP2C19 poor metabolizer (reported genotype)": ("CYP2C19", "*2/*2", "Poor Metabolizer"),
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    return generate_cohort(tmp_path_factory.mktemp("cohort"), DEFAULT_PATIENTS)


def _vcf(folder: Path, patient_id: str, into: Path) -> Path:
    bundle = orjson.loads((folder / f"{patient_id}.json").read_bytes())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DocumentReference":
            path = into / f"{patient_id}.vcf"
            path.write_bytes(base64.b64decode(resource["content"][0]["attachment"]["data"]))
            return path
    raise AssertionError(f"{patient_id} has no VCF")


def _same_diplotype(called: str, planted: tuple[str, str]) -> bool:
    return sorted(called.split("/")) == sorted(planted) if called.count("/") == 1 else False


def test_showcase_genotypes_call_to_the_intended_diplotype_and_phenotype(cohort: Cohort, tmp_path: Path) -> None:
    assert {s.label for s in SHOWCASES if s.gene} == set(EXPECTED)
    seen = set()
    for plan in cohort.patients:
        if plan.showcase is None or plan.showcase.label not in EXPECTED:
            continue
        seen.add(plan.showcase.label)
        gene, diplotype, phenotype = EXPECTED[plan.showcase.label]
        if plan.kind == "vcf":
            result = call_vcf(_vcf(cohort.directory, plan.id, tmp_path)).samples[plan.id][gene]
        else:
            result = outside_call(gene, "/".join(plan.diplotypes[gene]))
        assert result.diplotypes == [diplotype], plan.showcase.label
        assert result.phenotype == phenotype, plan.showcase.label
    assert seen == set(EXPECTED)  # every showcase was planted and checked


def test_every_vcf_patient_calls_to_its_planted_diplotypes(cohort: Cohort, tmp_path: Path) -> None:
    checked = 0
    for plan in cohort.patients:
        if plan.kind != "vcf":
            continue
        genes = call_vcf(_vcf(cohort.directory, plan.id, tmp_path)).samples[plan.id]
        for gene, planted in plan.diplotypes.items():
            called = genes[gene].diplotypes
            assert len(called) == 1 and _same_diplotype(called[0], planted), (plan.id, gene, called, planted)
            checked += 1
    assert checked >= 30 * 8


def test_reported_genotypes_are_interpreted(cohort: Cohort) -> None:
    checked = 0
    for plan in cohort.patients:
        if plan.kind != "observations":
            continue
        for gene, planted in plan.diplotypes.items():
            result = outside_call(gene, "/".join(planted))
            assert len(result.diplotypes) == 1 and _same_diplotype(result.diplotypes[0], planted)
            checked += 1
            if gene == "CYP4F2":  # no phenotype table: warfarin dosing reads the *3 allele itself
                continue
            assert result.phenotype and result.phenotype != "Indeterminate", (plan.id, gene, planted)
    assert checked > 0  # the cohort has patients with reported genotypes
