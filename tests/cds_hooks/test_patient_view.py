"""patient-view: the twin summary card (actionable phenotypes, risks with provenance, PhenoAge, what-if)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient

from services.common.twin import Demographics, GeneResult, LabValue, SourceRef, Twin
from services.pgx import outside_call

from .conftest import AppFactory, gene
from .test_cards import cards_of, hook, med

VIEW = "/cds-services/twinrx-twin-summary"


def _lab(name: str, code: str, value: float, unit: str) -> LabValue:
    return LabValue(
        name=name,
        code=code,
        value=value,
        unit=unit,
        source=SourceRef(resource_type="Observation", id=f"obs-{name}", date=datetime(2026, 10, 1, tzinfo=UTC)),
    )


LABS = {
    lab.name: lab
    for lab in [
        _lab("total_cholesterol", "2093-3", 240, "mg/dL"),
        _lab("hdl_cholesterol", "2085-9", 40, "mg/dL"),
        _lab("systolic_bp", "8480-6", 150, "mm[Hg]"),
        _lab("egfr", "98979-8", 80, "mL/min/{1.73_m2}"),
        _lab("bmi", "39156-5", 31, "kg/m2"),
        _lab("hba1c", "4548-4", 6.1, "%"),
        _lab("albumin", "1751-7", 4.2, "g/dL"),
        _lab("creatinine", "2160-0", 1.0, "mg/dL"),
        _lab("glucose", "2345-7", 100, "mg/dL"),
        _lab("crp", "1988-5", 2.0, "mg/L"),
        _lab("lymphocyte_percent", "736-9", 30, "%"),
        _lab("mcv", "787-2", 90, "fL"),
        _lab("rdw", "788-0", 13, "%"),
        _lab("alp", "6768-6", 70, "U/L"),
        _lab("wbc", "6690-2", 6, "10*3/uL"),
    ]
}


def _view(patient: str) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": f"pv-{patient}",
        "context": {"patientId": patient, "userId": "Practitioner/1"},
    }


def test_summary_lists_actionable_phenotypes_risks_phenoage_and_what_if(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    birth = date(datetime.now(UTC).year - 55, 1, 15)
    seed(
        "local:demo",
        "pv1",
        gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="gt-2c19"),
        GeneResult(gene="NAT2", diplotypes=["*1/*1"], phenotype="Rapid Metabolizer"),
        outside_call("RYR1", "Reference/Reference"),
        demographics=Demographics(gender="male", birth_date=birth),
        labs=LABS,
        smoking="current",
    )
    (card,) = cards_of(dev_client, VIEW, _view("pv1"))
    summary, detail = card["summary"], card["detail"]
    assert summary.startswith("Twin: 1 actionable PGx phenotype (CYP2C19); PREVENT total cvd 10y ")
    assert "PhenoAge" in summary and len(summary) < 140
    assert card["indicator"] == "warning"
    row = next(line for line in detail.splitlines() if line.startswith("| CYP2C19 |"))
    assert "clopidogrel" in row and "Observation/gt-2c19" in row and "*2/*2" in row
    assert "| NAT2 |" not in detail and "| RYR1 |" not in detail  # no guideline change for these calls
    assert "| PREVENT ascvd 10y |" in detail
    assert "systolic_bp: Observation/obs-systolic_bp, 2026-10-01" in detail
    assert "**PhenoAge:**" in detail and "against chronological age 55 y" in detail
    what_if = detail.split("**What lowers the risks most**")[1]
    assert "| systolic_bp → 120.0 |" in what_if and "| smoking → former |" in what_if
    assert " points |" in what_if


def test_summary_without_pgx_or_risk_inputs(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed("local:demo", "pv2")
    (card,) = cards_of(dev_client, VIEW, _view("pv2"))
    assert card["indicator"] == "info"
    assert "No pharmacogenomic results on record." in card["detail"]
    assert "What lowers" not in card["detail"]


def test_warfarin_algorithm_card_is_info_for_reference_genotypes_and_warning_otherwise(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed(
        "local:demo",
        "wf-ref",
        outside_call("CYP2C9", "*1/*1"),
        outside_call("VKORC1", "rs9923231 reference (C)/rs9923231 reference (C)"),
    )
    seed(
        "local:demo",
        "wf-pm",
        outside_call("CYP2C9", "*3/*3"),
        outside_call("VKORC1", "rs9923231 reference (C)/rs9923231 reference (C)"),
    )
    draft = med("w1", text="warfarin sodium 5 MG Oral Tablet")
    (ref,) = cards_of(dev_client, "/cds-services/twinrx-pgx-order-sign", hook("order-sign", "wf-ref", draft))
    (pm,) = cards_of(dev_client, "/cds-services/twinrx-pgx-order-sign", hook("order-sign", "wf-pm", draft))
    assert ref["indicator"] == "info" and pm["indicator"] == "warning"
    assert ref["summary"].startswith("Warfarin: dose with a genotype-guided algorithm (CYP2C9 Normal Metabolizer")
    assert "CYP2C9 Poor Metabolizer" in pm["summary"] and "VKORC1 -1639 GG" in pm["summary"]


def test_engine_faults_cost_only_their_own_part(make_client: AppFactory, seed: Callable[..., Twin]) -> None:
    """Fault injection: a recommender error skips one order; risk and what-if errors drop their sections."""
    from dataclasses import replace

    from services.cds_hooks._engines import load_engines
    from services.pgx import PGxValueError, recommend
    from services.risk.errors import CaseInputError

    def flaky_recommend(drug: str, profile: Any) -> Any:
        if "codeine" in drug.lower() or drug == "2670":
            raise PGxValueError("injected", location="test")
        return recommend(drug, profile)

    def broken(*_: Any) -> Any:
        raise CaseInputError("injected", location="test")

    engines = replace(load_engines(), recommend=flaky_recommend, assess=broken, what_if=broken)
    client = make_client(auth=False, engines_override=engines)
    seed(
        "local:demo",
        "fault1",
        gene("CYP2C19", "*2/*2", "Poor Metabolizer"),
        gene("CYP2D6", "*4/*4", "Poor Metabolizer", activity="0.0"),
    )
    body = hook("order-sign", "fault1", med("a", text="codeine 30 MG Oral Tablet"), med("b", code="213169"))
    cards = cards_of(client, "/cds-services/twinrx-pgx-order-sign", body)
    assert [c["summary"].split(":")[0] for c in cards] == ["Clopidogrel"]
    (card,) = cards_of(client, VIEW, _view("fault1"))
    assert "CYP2C19" in card["summary"] and "No risk estimates available." in card["detail"]
