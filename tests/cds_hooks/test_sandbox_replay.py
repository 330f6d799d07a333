"""Replay the requests captured from the CDS Hooks sandbox (signed like the sandbox signs them) and the
spec's examples; assert status codes and card structure."""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.codes import RXNORM
from services.common.twin import Twin

from .conftest import Key, gene, load_json
from .test_cards import cards_of

SANDBOX_FHIR = "http://127.0.0.1:8091/fhir"
SERVICE_FOR_HOOK = {
    "order-select": "twinrx-pgx-order-select",
    "order-sign": "twinrx-pgx-order-sign",
    "patient-view": "twinrx-twin-summary",
}


def _signed_post(client: TestClient, key: Key, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=key.bearer(path))


@pytest.fixture
def sandbox(shared_data: Path) -> Path:
    return shared_data / "cds" / "sandbox"


@pytest.fixture
def pgx1(seed: Callable[..., Twin]) -> Twin:
    """The sandbox's patient pgx1 as a stored twin: CYP2C19 poor metabolizer."""
    return seed(SANDBOX_FHIR, "pgx1", gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="pgx1-cyp2c19"))


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_captured_order_requests_without_medication_give_no_cards(
    client: TestClient, sandbox_key: Key, sandbox: Path, pgx1: Twin, hook: str
) -> None:
    body = load_json(sandbox / f"captured-{hook}-request.json")
    resp = _signed_post(client, sandbox_key, f"/cds-services/{SERVICE_FOR_HOOK[hook]}", body)
    assert resp.status_code == 200
    assert resp.json() == {"cards": []}


def test_captured_order_select_with_a_sandbox_drug_gives_the_cyp2c19_card(
    client: TestClient, sandbox_key: Key, sandbox: Path, shared_data: Path, pgx1: Twin
) -> None:
    """The sandbox's Rx View puts a clinical-drug rxcui from its medication list in the draft order."""
    with (shared_data / "rxnorm" / "sandbox-medications.tsv").open() as fh:
        names = {row["rxcui"]: row["name"] for row in csv.DictReader(fh, delimiter="\t")}
    body = copy.deepcopy(load_json(sandbox / "captured-order-select-request.json"))
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"] = {
        "text": names["213169"],
        "coding": [{"system": RXNORM, "code": "213169", "display": names["213169"]}],
    }
    path = "/cds-services/twinrx-pgx-order-select"
    resp = _signed_post(client, sandbox_key, path, body)
    assert resp.status_code == 200
    (card,) = resp.json()["cards"]
    assert card["indicator"] == "warning"
    assert "CYP2C19 Poor Metabolizer" in card["summary"] and "*2/*2" in card["detail"]
    assert card["suggestions"][0]["actions"][0] == {
        "type": "delete",
        "description": "Remove the draft Clopidogrel order",
        "resourceId": "MedicationRequest/request-123",
    }
    assert card["suggestions"][0]["actions"][1]["resource"]["subject"] == {"reference": "Patient/pgx1"}


def test_captured_patient_view_gives_one_summary_card(
    client: TestClient, sandbox_key: Key, sandbox: Path, pgx1: Twin
) -> None:
    body = load_json(sandbox / "captured-patient-view-request.json")
    path = "/cds-services/twinrx-twin-summary"
    resp = _signed_post(client, sandbox_key, path, body)
    assert resp.status_code == 200
    (card,) = resp.json()["cards"]
    assert card["summary"] == "Twin: 1 actionable PGx phenotype (CYP2C19)"
    assert card["indicator"] == "warning"
    assert "Observation/pgx1-cyp2c19" in card["detail"]


def test_captured_patient_view_for_an_unknown_patient_is_built_from_prefetch(
    client: TestClient, sandbox_key: Key, sandbox: Path
) -> None:
    """No twin, no token: the sandbox prefetched the patient (the only essential key) -> a card, not 412."""
    body = load_json(sandbox / "captured-patient-view-request.json")
    path = "/cds-services/twinrx-twin-summary"
    resp = _signed_post(client, sandbox_key, path, body)
    assert resp.status_code == 200
    (card,) = resp.json()["cards"]
    assert card["summary"].startswith("Twin: 0 actionable PGx phenotypes")
    assert "Pharmacogenomic results could not be retrieved for this call" in card["detail"]
    assert (
        "_Not available to this call: conditions, labs, smoking, vitals; estimates may be incomplete._"
        in card["detail"]
    )


def test_captured_feedback_is_accepted(client: TestClient, sandbox_key: Key, sandbox: Path) -> None:
    path = "/cds-services/twinrx-pgx-order-select/feedback"
    resp = _signed_post(client, sandbox_key, path, load_json(sandbox / "captured-feedback-accepted.json"))
    assert resp.status_code == 200
    assert resp.json() == {}


@pytest.mark.parametrize(
    "name",
    [
        "order-select--example-r4.json",
        "order-sign--example-r4.json",
        "order-select--example-stu3.json",
        "order-sign--example-stu3.json",
        "order-select--example-dstu2.json",
        "order-sign--example-dstu2.json",
    ],
)
def test_hook_library_order_examples(
    client: TestClient, sandbox_key: Key, shared_data: Path, seed: Callable[..., Twin], name: str
) -> None:
    """Amoxicillin/clavulanate (no PGx guidance) next to a NutritionOrder -> 200, no cards."""
    example = load_json(shared_data / "cds" / "hooks" / name)
    hook = name.split("--")[0]
    seed("local:demo", example["context"]["patientId"], gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    body = {"hook": hook, "hookInstance": f"lib-{name}", **example}
    if hook == "order-select" and "selections" not in body["context"]:
        pytest.skip(f"{name} has no selections")
    resp = _signed_post(client, sandbox_key, f"/cds-services/{SERVICE_FOR_HOOK[hook]}", body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"cards": []}


@pytest.mark.parametrize("name", ["patient-view--examples.json", "patient-view--examples-2.json"])
def test_hook_library_patient_view_examples(
    client: TestClient, sandbox_key: Key, shared_data: Path, seed: Callable[..., Twin], name: str
) -> None:
    example = load_json(shared_data / "cds" / "hooks" / name)
    seed("local:demo", example["context"]["patientId"], gene("SLCO1B1", "*5/*5", "Poor Function"))
    body = {"hook": "patient-view", "hookInstance": f"lib-{name}", **example}
    path = "/cds-services/twinrx-twin-summary"
    resp = _signed_post(client, sandbox_key, path, body)
    assert resp.status_code == 200
    (card,) = resp.json()["cards"]
    assert "SLCO1B1" in card["summary"]


def test_spec_patient_view_request_with_a_stored_twin(
    client: TestClient, sandbox_key: Key, shared_data: Path, seed: Callable[..., Twin]
) -> None:
    body = load_json(shared_data / "cds" / "spec-2.0.1" / "request-patient-view.json")
    seed(body["fhirServer"], body["context"]["patientId"], gene("CYP2C9", "*3/*3", "Poor Metabolizer"))
    path = "/cds-services/twinrx-twin-summary"
    (card,) = cards_of_signed(client, sandbox_key, path, body)
    assert "CYP2C9" in card["summary"]


def test_spec_partial_prefetch_with_bare_string_value_is_tolerated(
    client: TestClient, sandbox_key: Key, shared_data: Path
) -> None:
    """The spec's partial-prefetch example: a snipped Patient and `user` as a bare string."""
    partial = load_json(shared_data / "cds" / "spec-2.0.1" / "request-prefetch-data-partial.json")
    body = {
        "hook": "patient-view",
        "hookInstance": "partial-1",
        "context": {"patientId": "p-partial", "userId": "Practitioner/123"},
        "prefetch": {
            "patient": {k: v for k, v in partial["prefetch"]["patient"].items() if k != "..."} | {"id": "p-partial"},
            "labs": partial["prefetch"]["hemoglobin-a1c"],
            "user": partial["prefetch"]["user"],
        },
    }
    (card,) = cards_of_signed(client, sandbox_key, "/cds-services/twinrx-twin-summary", body)
    assert card["summary"].startswith("Twin: 0 actionable")


@pytest.mark.parametrize(
    "name", ["feedback-accepted.json", "feedback-overridden-no-reason.json", "feedback-overridden-with-reason.json"]
)
def test_spec_feedback_examples(client: TestClient, sandbox_key: Key, shared_data: Path, name: str) -> None:
    path = "/cds-services/twinrx-pgx-order-sign/feedback"
    resp = _signed_post(client, sandbox_key, path, load_json(shared_data / "cds" / "spec-2.0.1" / name))
    assert resp.status_code == 200


def cards_of_signed(client: TestClient, key: Key, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    resp = _signed_post(client, key, path, body)
    assert resp.status_code == 200, resp.text
    cards: list[dict[str, Any]] = resp.json()["cards"]
    return cards


def test_dev_client_helper_is_consistent(dev_client: TestClient) -> None:
    assert (
        cards_of(
            dev_client,
            "/cds-services/twinrx-pgx-order-sign",
            {
                "hook": "order-sign",
                "hookInstance": "x",
                "context": {"patientId": "p", "draftOrders": {"resourceType": "Bundle"}},
            },
        )
        == []
    )
