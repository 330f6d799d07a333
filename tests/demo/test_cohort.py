"""The synthetic cohort: deterministic, large enough, genomic data for everyone, valid FHIR R4."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from services.common.errors import ValidationFailure
from services.demo._design import SHOWCASES
from services.demo.cohort import DEFAULT_PATIENTS, generate_cohort


def _bundles(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(folder.glob("*.json"))}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.json"))}


def _vcf_text(bundle: dict[str, Any]) -> str | None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DocumentReference":
            return base64.b64decode(resource["content"][0]["attachment"]["data"]).decode()
    return None


def _vcf_calls(text: str) -> dict[str, str]:
    """rsid -> GT of every non-header line."""
    calls = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        calls[fields[2]] = fields[9]
    return calls


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate_cohort(tmp_path / "a", 12, seed=7)
    second = generate_cohort(tmp_path / "b", 12, seed=7)
    assert first.patient_ids == second.patient_ids
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(_digest(tmp_path / "a")) == 12


def test_another_seed_gives_another_cohort(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "a", 12, seed=7)
    generate_cohort(tmp_path / "b", 12, seed=8)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")


def test_regenerating_into_the_same_folder_replaces_the_files(tmp_path: Path) -> None:
    generate_cohort(tmp_path, 20, seed=1)
    generate_cohort(tmp_path, 10, seed=1)
    assert len(list(tmp_path.glob("*.json"))) == 10


def test_default_cohort_has_fifty_or_more_patients_each_with_genomic_data(tmp_path: Path) -> None:
    cohort = generate_cohort(tmp_path)
    assert DEFAULT_PATIENTS >= 50
    bundles = _bundles(tmp_path)
    assert len(bundles) == len(cohort.patients) == DEFAULT_PATIENTS
    kinds = {"vcf": 0, "observations": 0}
    for plan in cohort.patients:
        bundle = bundles[f"{plan.id}.json"]
        types = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert types.count("Patient") == 1
        genotype_obs = [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"]["coding"][0]["code"] == "84413-4"
        ]
        vcf = _vcf_text(bundle)
        assert (vcf is not None) != bool(genotype_obs), plan.id  # exactly one form of genomic data
        kinds[plan.kind] += 1
        if plan.kind == "vcf":
            assert vcf is not None and vcf.startswith("##fileformat=VCFv4.2")
        else:
            assert {o["component"][0]["valueCodeableConcept"]["coding"][0]["display"] for o in genotype_obs} == set(
                plan.diplotypes
            )
        assert "Condition" in types or not (plan.clinical.diabetes or plan.clinical.hypertension)
        labs = {
            e["resource"]["code"]["coding"][0]["code"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
        }
        assert {"2093-3", "2085-9", "85354-9", "39156-5", "4548-4", "98979-8", "72166-2"} <= labs
    assert kinds["vcf"] > 0 and kinds["observations"] > 0


def test_every_resource_is_valid_r4_and_points_at_its_patient(tmp_path: Path) -> None:
    cohort = generate_cohort(tmp_path, 10, seed=3)
    for plan in cohort.patients:
        bundle = orjson.loads((tmp_path / f"{plan.id}.json").read_bytes())
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert entry["request"]["url"] == f"{resource['resourceType']}/{resource['id']}"
            if resource["resourceType"] != "Patient":
                assert resource["subject"] == {"reference": f"Patient/{plan.id}"}


def test_showcase_patients_carry_the_planted_variants(tmp_path: Path) -> None:
    cohort = generate_cohort(tmp_path, len(SHOWCASES), seed=5)
    by_label = {p.showcase.label: p for p in cohort.patients if p.showcase}
    bundles = _bundles(tmp_path)

    def calls(label: str) -> dict[str, str]:
        text = _vcf_text(bundles[f"{by_label[label].id}.json"])
        assert text is not None
        return _vcf_calls(text)

    cyp2c19 = calls("CYP2C19 poor metabolizer")
    assert cyp2c19["rs4244285"] == "1|1"  # c.681G>A, the *2 splice defect, on both haplotypes
    assert calls("SLCO1B1 decreased function")["rs4149056"] == "0|1"  # c.521T>C (*5), one copy
    assert calls("DPYD intermediate metabolizer")["rs3918290"] == "0|1"  # c.1905+1G>A (*2A), one copy
    tpmt = calls("TPMT poor metabolizer")
    assert (tpmt["rs1800460"], tpmt["rs1142345"]) == ("1|1", "1|1")  # *3A = both variants in cis
    assert calls("CYP2C9 poor metabolizer")["rs1057910"] == "1|1"  # *3
    normal = calls("no actionable variant (VCF)")
    assert normal["rs4244285"] == "0|0" and normal["rs4149056"] == "0|0" and normal["rs3918290"] == "0|0"

    reported = bundles[f"{by_label['CYP2C19 poor metabolizer (reported genotype)'].id}.json"]
    texts = {
        e["resource"]["valueCodeableConcept"]["text"]
        for e in reported["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and "valueCodeableConcept" in e["resource"]
        and e["resource"]["code"]["coding"][0]["code"] == "84413-4"
    }
    assert "CYP2C19 *2/*2" in texts


def test_too_small_a_cohort_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailure, match="at least"):
        generate_cohort(tmp_path, len(SHOWCASES) - 1)
