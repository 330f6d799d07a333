"""genotype_from_observation: the cases ingest relies on (normalised names, any gene, strict reasons, STU1 panels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.pgx import PGxValueError, genotype_from_observation

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
INGEST_DATA = Path(__file__).resolve().parent.parent / "data" / "ingest"


def _gene(code: str | None, display: str | None) -> dict[str, Any]:
    coding = {"system": HGNC, **({"code": code} if code else {}), **({"display": display} if display else {})}
    return {"code": {"coding": [{"system": LOINC, "code": "48018-6"}]}, "valueCodeableConcept": {"coding": [coding]}}


def _genotype(text: str | None, *components: dict[str, Any], system: str = LOINC) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "g1",
        "status": "final",
        "code": {"coding": [{"system": system, "code": "84413-4"}]},
        "component": list(components),
    }
    if text is not None:
        resource["valueCodeableConcept"] = {"text": text}
    return resource


def _call(resource: dict[str, Any], **options: bool) -> tuple[str | None, str | None, str | None] | None:
    found = genotype_from_observation(resource, **options)
    return None if found is None else (found.gene, found.diplotype, found.phenotype)


@pytest.mark.parametrize(
    ("text", "gene", "expected"),
    [
        ("CYP2C19*2/*2", "CYP2C19", ("CYP2C19", "*2/*2", None)),
        ("CYP2D6*7.001 / CYP2D6*1.001", None, ("CYP2D6", "*7/*1", None)),
        ("CYP2C9 *4/*35B", "CYP2C9", ("CYP2C9", "*4/*35B", None)),
        ("VKORC1 rs9923231 T/C", "VKORC1", ("VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)", None)),
    ],
)
def test_normalise_gives_the_knowledge_base_allele_names(
    text: str, gene: str | None, expected: tuple[str, str, None]
) -> None:
    resource = _genotype(text, *([_gene(None, gene)] if gene else []))
    assert _call(resource, normalise=True) == expected
    assert _call(resource) == (expected[0], text, None)  # the default passes the report text through


def test_any_gene_keeps_genes_without_knowledge_base_tables(shared_data: Path) -> None:
    folder = shared_data / "fhir" / "genomics-examples"
    apoe = json.loads((folder / "Observation-Genotype-Clinical-Trial-Example-using-haplotypes.json").read_text())
    assert _call(apoe) is None
    assert _call(apoe, any_gene=True, normalise=True) == ("APOE", "e1/e1", None)


def test_hgnc_id_names_the_gene_when_no_display_does() -> None:
    assert _call(_genotype("*1/*3", _gene("HGNC:2623", None))) == ("CYP2C9", "*1/*3", None)


def test_display_wins_over_a_wrong_hgnc_id() -> None:
    # The IG's Observation-Pgx-var-1011 codes CYP2C19 as HGNC:262 (a wrong id).
    resource = _genotype("*2/*2", _gene("HGNC:262", "CYP2C19"))
    assert _call(resource, normalise=True, any_gene=True) == ("CYP2C19", "*2/*2", None)


def test_strict_names_what_a_genotype_lacks() -> None:
    no_gene, no_value = _genotype("*1/*2"), _genotype(None, _gene("HGNC:2621", "CYP2C19"))
    assert (_call(no_gene), _call(no_value)) == (None, None)
    with pytest.raises(PGxValueError, match="genotype without a gene"):
        genotype_from_observation(no_gene, strict=True)
    with pytest.raises(PGxValueError, match="genotype without a value"):
        genotype_from_observation(no_value, strict=True)
    retracted = {**_genotype("*1/*2"), "status": "entered-in-error"}
    assert genotype_from_observation(retracted, strict=True) is None


def test_loinc_codes_under_another_system_spelling() -> None:
    resource = _genotype("CYP2C19*1/*17", system="urn:oid:2.16.840.1.113883.6.1")
    assert _call(resource, normalise=True) == ("CYP2C19", "*1/*17", None)


def _legacy(observation_id: str) -> dict[str, Any]:
    bundle = json.loads((INGEST_DATA / "legacy-pgx.json").read_text())
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == observation_id)


def test_stu1_panel_reads_its_genotype_and_status_components() -> None:
    panel = _legacy("legacy-panel")
    assert _call(panel, normalise=True) == ("CYP2C19", "*1/*2", "Intermediate Metabolizer")
    assert _call(panel) == ("CYP2C19", "CYP2C19 *1/*2", "Intermediate Metabolizer")
    found = genotype_from_observation(panel)
    assert found is not None and found.source.version == "3"


def test_stu1_panel_with_only_a_status_is_a_phenotype_call() -> None:
    panel = _legacy("legacy-panel")
    panel["component"] = [c for c in panel["component"] if c["code"]["coding"][0]["code"] != "84413-4"]
    assert _call(panel) == ("CYP2C19", None, "Intermediate Metabolizer")


@pytest.mark.parametrize(
    ("answer", "phenotype"),
    [
        ({"system": LOINC, "code": "LA25395-7"}, "Decreased Function"),
        ({"system": LOINC, "code": "LA19541-4"}, "High Risk"),
        ({"system": "http://example.org/lab", "code": "X1", "display": "Poor Metabolizer"}, "Poor Metabolizer"),
    ],
)
def test_effect_answers_beyond_metabolizer_codes(answer: dict[str, str], phenotype: str) -> None:
    resource = {
        "resourceType": "Observation",
        "id": "e1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "53040-2"}]},
        "valueCodeableConcept": {"coding": [answer]},
        "component": [_gene("HGNC:2625", "CYP2D6")],
    }
    assert _call(resource) == ("CYP2D6", None, phenotype)
