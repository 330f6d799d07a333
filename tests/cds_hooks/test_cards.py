"""PGx cards from real pgx.recommend results, end to end through order-select / order-sign."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.cds_hooks._cards import SUMMARY_MAX, fit_summary
from services.common.codes import RXNORM
from services.common.twin import SourceRef, Twin
from services.pgx import outside_call

from .conftest import AppFactory, gene
from .test_discovery import _no_nulls_or_empties

SELECT = "/cds-services/twinrx-pgx-order-select"
SIGN = "/cds-services/twinrx-pgx-order-sign"
SERVER = "local:demo"


def med(
    rid: str, *, code: str | None = None, display: str | None = None, text: str | None = None, **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": rid, "status": "draft", **extra}
    concept: dict[str, Any] = {}
    if code or display:
        coding = {"system": RXNORM, **({"code": code} if code else {}), **({"display": display} if display else {})}
        concept["coding"] = [coding]
    if text:
        concept["text"] = text
    if concept:
        resource["medicationCodeableConcept"] = concept
    return resource


def hook(kind: str, patient: str, *orders: dict[str, Any], selections: list[str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "patientId": patient,
        "userId": "Practitioner/example",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    if kind == "order-select":
        context["selections"] = selections or [f"{o['resourceType']}/{o['id']}" for o in orders[:1]]
    return {"hook": kind, "hookInstance": f"test-{kind}-{patient}", "context": context}


def cards_of(client: TestClient, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    resp = client.post(path, json=body)
    assert resp.status_code == 200, resp.text
    assert _no_nulls_or_empties(resp.json()) == [] or resp.json() == {"cards": []}
    cards: list[dict[str, Any]] = resp.json()["cards"]
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert re.fullmatch(r"[0-9a-f-]{36}", card["uuid"])
        if "suggestions" in card:
            assert card["selectionBehavior"] == "at-most-one"
            assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) <= 1
            for suggestion in card["suggestions"]:
                for action in suggestion["actions"]:
                    assert action["description"]
                    if action["type"] == "delete":
                        assert "resource" not in action and action["resourceId"]
        for reason in card.get("overrideReasons", []):
            assert reason["display"] and reason["code"] and reason["system"]
        for link in card.get("links", []):
            assert link["type"] == "absolute" and link["url"].startswith("https://")
    return cards


def test_cyp2c19_poor_metabolizer_and_clopidogrel_gives_a_warning_with_alternative(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed(SERVER, "pm1", gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="gt-cyp2c19"))
    draft = med(
        "rx-1",
        code="213169",
        display="clopidogrel 75 MG Oral Tablet [Plavix]",
        intent="order",
        subject={"reference": "Patient/pm1"},
    )
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "pm1", draft))
    assert card["indicator"] == "warning"
    assert (
        card["summary"]
        == "Clopidogrel: use an alternative (CYP2C19 Poor Metabolizer); consider prasugrel or ticagrelor"
    )
    for text in ("CYP2C19", "*2/*2", "Poor Metabolizer", "Observation/gt-cyp2c19", "Strong", "CPIC"):
        assert text in card["detail"], text
    assert card["source"]["url"].startswith("https://")
    first = card["suggestions"][0]
    # the card covers the neurovascular population too, for which CPIC names no drug (prasugrel is
    # contraindicated after a stroke): nothing is pre-selected and each label says whom it is named for
    assert not any(s.get("isRecommended") for s in card["suggestions"])
    assert first["label"] == "Replace Clopidogrel with prasugrel (CPIC names it for: CVI ACS PCI; CVI non-ACS non-PCI)"
    assert "- NVI: none named" in card["detail"]
    delete, create = first["actions"]
    assert delete == {
        "type": "delete",
        "description": "Remove the draft Clopidogrel order",
        "resourceId": "MedicationRequest/rx-1",
    }
    assert create["type"] == "create"
    order = create["resource"]
    assert order["resourceType"] == "MedicationRequest" and order["status"] == "draft" and order["intent"] == "order"
    assert order["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "613391", "display": "prasugrel"}
    ]
    assert order["subject"] == {"reference": "Patient/pm1"}
    assert {s["label"] for s in card["suggestions"]} == {
        "Replace Clopidogrel with prasugrel (CPIC names it for: CVI ACS PCI; CVI non-ACS non-PCI)",
        "Replace Clopidogrel with ticagrelor (CPIC names it for: CVI ACS PCI; CVI non-ACS non-PCI)",
    }
    assert {r["code"] for r in card["overrideReasons"]} >= {
        "action-performed-no-adverse-effect",
        "recipient-does-not-trust",
    }


def test_drug_without_guidance_gives_no_card(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "pm2", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    draft = med(
        "rx-2", code="617993", display="Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension"
    )
    assert cards_of(dev_client, SELECT, hook("order-select", "pm2", draft)) == []


def test_normal_metabolizer_gets_no_card(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "nm1", gene("CYP2C19", "*1/*1", "Normal Metabolizer"))
    draft = med("rx-3", code="309362", display="clopidogrel 75 MG Oral Tablet")
    assert cards_of(dev_client, SELECT, hook("order-select", "nm1", draft)) == []


def test_avoid_with_strong_evidence_is_critical(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "pm3", gene("CYP2D6", "*4/*4", "Poor Metabolizer", activity="0.0"))
    draft = med("rx-4", text="codeine 30 MG Oral Tablet")
    (card,) = cards_of(dev_client, SIGN, hook("order-sign", "pm3", draft))
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Codeine: avoid (CYP2D6 Poor Metabolizer)")
    (cancel,) = card["suggestions"]
    # one population, one action that implements "avoid": the only case a cancel is pre-selected
    assert cancel["label"] == "Cancel the Codeine order" and cancel["isRecommended"] is True
    assert cancel["actions"] == [
        {"type": "delete", "description": "Remove the draft Codeine order", "resourceId": "MedicationRequest/rx-4"}
    ]


def test_dose_reduction_updates_the_draft_dose(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "pm4", gene("DPYD", "c.1905+1G>A/Reference", "Intermediate Metabolizer", activity="1.0"))
    dosage = [{"text": "1000 mg/m2 twice daily", "doseAndRate": [{"doseQuantity": {"value": 1000, "unit": "mg/m2"}}]}]
    draft = med("rx-5", text="capecitabine 500 MG Oral Tablet", dosageInstruction=dosage)
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "pm4", draft))
    assert card["indicator"] == "warning"
    assert card["summary"] == "Capecitabine: reduce dose by 50% (DPYD Intermediate Metabolizer)"
    assert "c.1905+1G>A/Reference" in card["detail"] and "| 1.0 |" in card["detail"]
    (update,) = card["suggestions"]
    # the order's free text cannot be rewritten, so the update is offered but not pre-selected, and the
    # text is marked as the original order's beside the halved structured dose
    assert update["label"] == "Reduce Capecitabine dose by 50%" and "isRecommended" not in update
    (action,) = update["actions"]
    assert action["type"] == "update"
    assert action["resource"]["id"] == "rx-5"
    (dosage,) = action["resource"]["dosageInstruction"]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 500
    assert dosage["text"] == "[structured dose changed by -50%; original text:] 1000 mg/m2 twice daily"
    assert "DPYD Intermediate Metabolizer" in action["resource"]["note"][0]["text"]


def test_dose_reduction_is_pre_selected_only_for_a_structured_dose(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed(SERVER, "pm5", gene("DPYD", "c.1905+1G>A/Reference", "Intermediate Metabolizer", activity="1.0"))
    structured = [{"doseAndRate": [{"doseRange": {"low": {"value": 1000}, "high": {"value": 2000}}}]}]
    draft = med("rx-7", text="capecitabine 500 MG Oral Tablet", dosageInstruction=structured)
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "pm5", draft))
    (update,) = card["suggestions"]
    assert update["isRecommended"] is True
    dose_range = update["actions"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseRange"]
    assert (dose_range["low"]["value"], dose_range["high"]["value"]) == (500, 1000)
    # "as directed": no structured dose, so no one-click update that would change nothing
    free = med("rx-8", text="capecitabine 500 MG Oral Tablet", dosageInstruction=[{"text": "as directed"}])
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "pm5", free))
    assert card["summary"] == "Capecitabine: reduce dose by 50% (DPYD Intermediate Metabolizer)"
    assert "suggestions" not in card


def test_genotype_unknown_gives_one_testing_card_per_window(make_client: AppFactory, seed: Callable[..., Twin]) -> None:
    client = make_client(auth=False)
    seed(SERVER, "nt1")
    draft = med("rx-6", text="simvastatin 40 MG Oral Tablet")
    (card,) = cards_of(client, SELECT, hook("order-select", "nt1", draft))
    assert card["indicator"] == "info"
    assert card["summary"] == "Simvastatin: SLCO1B1 genotype unknown; consider pharmacogenomic testing"
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert cards_of(client, SELECT, hook("order-select", "nt1", draft)) == []  # not repeated within the window
    always = make_client(auth=False, cds_testing_card_window_hours=0)
    assert len(cards_of(always, SELECT, hook("order-select", "nt1", draft))) == 1


def test_order_sign_checks_every_draft_and_select_only_the_selection(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed(
        SERVER,
        "pm5",
        gene("CYP2C19", "*2/*2", "Poor Metabolizer"),
        gene("CYP2D6", "*4/*4", "Poor Metabolizer", activity="0.0"),
    )
    clop = med("a", code="213169")
    codeine = med("b", text="codeine sulfate 30 MG Oral Tablet")
    amox = med("c", code="617993")
    nutrition = {"resourceType": "NutritionOrder", "id": "n1", "status": "draft"}
    signed = cards_of(dev_client, SIGN, hook("order-sign", "pm5", clop, codeine, amox, nutrition))
    assert sorted(c["summary"].split(":")[0] for c in signed) == ["Clopidogrel", "Codeine"]
    selected = cards_of(
        dev_client, SELECT, hook("order-select", "pm5", clop, codeine, amox, selections=["MedicationRequest/b"])
    )
    assert [c["summary"].split(":")[0] for c in selected] == ["Codeine"]
    assert selected[0]["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/b"


def test_medication_reference_and_display_only_drugs_resolve(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "pm6", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    contained = med(
        "r1",
        medicationReference={"reference": "#m"},
        contained=[
            {"resourceType": "Medication", "id": "m", "code": {"coding": [{"system": RXNORM, "code": "213169"}]}}
        ],
    )
    in_bundle = med("r2", medicationReference={"reference": "Medication/med-9"})
    display_only = med("r3", medicationReference={"display": "Plavix 75 mg tablet"})
    medication = {"resourceType": "Medication", "id": "med-9", "code": {"text": "clopidogrel 75 MG Oral Tablet"}}
    body = hook("order-sign", "pm6", contained, in_bundle, display_only)
    body["context"]["draftOrders"]["entry"].append({"resource": medication})
    cards = cards_of(dev_client, SIGN, body)
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "MedicationRequest/r1",
        "MedicationRequest/r2",
        "MedicationRequest/r3",
    ]


def test_dstu2_medication_order_and_bundle_without_type(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "pm7", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    order = {
        "resourceType": "MedicationOrder",
        "id": "mo1",
        "status": "draft",
        "patient": {"reference": "Patient/pm7"},
        "medicationCodeableConcept": {"text": "clopidogrel 75 MG Oral Tablet"},
    }
    (card,) = cards_of(dev_client, SIGN, hook("order-sign", "pm7", order))
    create = card["suggestions"][0]["actions"][1]["resource"]
    assert create["resourceType"] == "MedicationOrder" and create["patient"] == {"reference": "Patient/pm7"}
    assert "intent" not in create


def test_summary_is_always_under_140_characters() -> None:
    assert fit_summary("a" * 200).endswith("…") and len(fit_summary("a" * 200)) == SUMMARY_MAX
    assert fit_summary("head", "; " + "t" * 200) == "head"


def test_a_result_on_file_that_cannot_be_read_is_never_reported_as_missing(
    make_client: AppFactory, seed: Callable[..., Twin]
) -> None:
    client = make_client(auth=False)
    unread = outside_call("CYP2D6", "*2/*1xN", source=SourceRef(resource_type="Observation", id="gt-2d6"))
    assert unread.phenotype is None  # copy number "xN" is not in the CPIC table
    seed(SERVER, "xn1", unread)
    draft = med("rx-9", text="codeine 30 MG Oral Tablet")
    for _ in range(2):  # shown on every call: it is not the once-per-window testing card
        (card,) = cards_of(client, SELECT, hook("order-select", "xn1", draft))
        assert card["indicator"] == "warning"
        assert card["summary"] == "Codeine: CYP2D6 result on file (CYP2D6 *2/*1xN) could not be interpreted; review it"
        assert "| CYP2D6 | *2/*1xN | – |" in card["detail"] and "Observation/gt-2d6" in card["detail"]
        assert "consider pharmacogenomic testing" not in card["summary"] and "no result" not in card["detail"]


def test_a_card_for_several_populations_gives_evidence_per_population(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed(SERVER, "pm6", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    draft = med("rx-10", code="309362", display="clopidogrel 75 MG Oral Tablet")
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "pm6", draft))
    assert "- CVI ACS PCI (Strong):" in card["detail"] and "- NVI (Moderate):" in card["detail"]
    assert "**Evidence:** CPIC classification by population, as listed above;" in card["detail"]


def test_implications_of_two_genes_are_listed_one_per_line(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    seed(SERVER, "tp1", gene("TPMT", "*3A/*3A", "Poor Metabolizer"), gene("NUDT15", "*1/*1", "Normal Metabolizer"))
    draft = med("rx-11", text="azathioprine 50 MG Oral Tablet")
    (card,) = cards_of(dev_client, SELECT, hook("order-select", "tp1", draft))
    lines = card["detail"].splitlines()
    start = lines.index("**Implications:**")
    assert [line.split(":")[0] for line in lines[start + 2 : start + 4]] == ["- NUDT15", "- TPMT"]
