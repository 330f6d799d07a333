"""Outside calls: text forms, FHIR genotype Observations (current and legacy), the outside-call TSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.pgx import PGxFileError, genotype_from_observation, outside_call, profile, read_outside_calls, recommend

DATA = Path(__file__).resolve().parents[1] / "data" / "pgx"


@pytest.mark.parametrize(
    ("gene", "text", "diplotype", "phenotype"),
    [
        ("CYP2C19", "CYP2C19*2/*2", "*2/*2", "Poor Metabolizer"),
        ("CYP2C19", "*17/*1", "*1/*17", "Rapid Metabolizer"),
        ("DPYD", "*2A/*2A", "c.1905+1G>A (*2A)/c.1905+1G>A (*2A)", "Poor Metabolizer"),
        ("CYP2D6", "CYP2D6*7.001 / CYP2D6*1.001", "*1/*7", "Intermediate Metabolizer"),
        ("VKORC1", "VKORC1 rs9923231 C/T", "rs9923231 reference (C)/rs9923231 variant (T)", "-1639 AG"),
        ("HLA-B", "*57:01 positive", "*57:01 positive", "*57:01 positive"),
        ("HLA-B", "HLA-B*15:02", "*15:02 positive", "*15:02 positive"),
        ("MT-RNR1", "1555A>G", "m.1555A>G", "increased risk of aminoglycoside-induced hearing loss"),
        ("SLCO1B1", "*1/*45.001", "*1/*45", "Decreased Function"),
    ],
)
def test_text_forms(gene: str, text: str, diplotype: str, phenotype: str) -> None:
    result = outside_call(gene, text)
    assert (result.diplotypes, result.phenotype, result.warnings) == ([diplotype], phenotype, [])


def test_unknown_allele_is_not_guessed() -> None:
    result = outside_call("CYP2C9", "CYP2C9 *4/*35B", phenotype="Intermediate Metabolizer")
    assert (result.phenotype, result.lookup_key) == (None, None)
    assert result.warnings == [
        "CYP2C9: allele(s) *35B not defined in the knowledge base; no phenotype assigned",
        "CYP2C9: the reported phenotype was not used",
    ]


def _walk(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource.get("resourceType") == "Bundle":
        return [r for e in resource.get("entry", []) for r in _walk(e["resource"])]
    return [resource]


def test_ig_genotype_observations(shared_data: Path) -> None:
    folder = shared_data / "fhir" / "genomics-examples"
    inputs = [
        g
        for f in sorted(folder.glob("*.json"))
        for r in _walk(json.loads(f.read_text(encoding="utf-8")))
        if (g := genotype_from_observation(r)) is not None
    ]
    assert {(g.gene, g.diplotype) for g in inputs} == {
        ("CYP2C9", "CYP2C9 *4/*35B"),
        ("HLA-B", "HLA-B*15:02"),
        ("CYP2D6", "CYP2D6*7.001 / CYP2D6*1.001"),
        ("CYP2C19", "CYP2C19*2/*2"),
        ("CYP2C9", "CYP2C9*1/*1"),
        ("VKORC1", "VKORC1 rs9923231 C/T"),
    }
    prof = profile([g for g in inputs if g.source.id != "genotype-pgx-example"])
    assert prof["CYP2C19"].method == "fhir-genotype"
    assert recommend("clopidogrel", prof).status == "actionable"


def test_legacy_effect_observation_gives_phenotype_only() -> None:
    legacy = {
        "resourceType": "Observation",
        "id": "old-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "53040-2"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA10316-0"}]},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
                "valueCodeableConcept": {
                    "coding": [{"system": "http://www.genenames.org", "code": "HGNC:2621", "display": "CYP2C19"}]
                },
            }
        ],
    }
    g = genotype_from_observation(legacy)
    assert g is not None and (g.gene, g.diplotype, g.phenotype) == ("CYP2C19", None, "Normal Metabolizer")
    result = profile([g])["CYP2C19"]
    assert (result.diplotypes, result.phenotype, result.lookup_key) == ([], "Normal Metabolizer", "Normal Metabolizer")


def test_outside_call_tsv(tmp_path: Path) -> None:
    calls = {r.gene: r for r in read_outside_calls(DATA / "outside" / "example.tsv")}
    assert calls["CYP2D6"].phenotype == "Intermediate Metabolizer"
    assert calls["HLA-B"].diplotypes == ["*15:02/*57:01"]
    assert calls["HLA-B"].phenotype == "*15:02 positive; *57:01 positive; *58:01 negative"
    bad = tmp_path / "bad.tsv"
    bad.write_text("CYP2C19\t*2/*2\nFOO1\t*1/*1\n", encoding="utf-8")
    with pytest.raises(PGxFileError) as err:
        read_outside_calls(bad)
    assert str(err.value) == f"{bad}:2 (gene): unknown gene 'FOO1'"


def test_outside_call_tsv_phenotype_and_score_only(tmp_path: Path) -> None:
    tsv = tmp_path / "o.tsv"
    tsv.write_text("CYP2D6\t\t\t1.0\nCYP2C19\t\tPoor Metabolizer\nNAT2\t\n", encoding="utf-8")
    calls = {r.gene: r for r in read_outside_calls(tsv)}
    assert (calls["CYP2D6"].phenotype, calls["CYP2D6"].lookup_key) == ("Intermediate Metabolizer", "1.0")
    assert (calls["CYP2C19"].phenotype, calls["CYP2C19"].lookup_key) == ("Poor Metabolizer", "Poor Metabolizer")
    assert (calls["NAT2"].diplotypes, calls["NAT2"].phenotype) == ([], None)
    assert recommend("codeine", {"CYP2D6": calls["CYP2D6"]}).status == "standard"
