"""A hook's fhirServer and patientId: the background sync (run with the worker's own credentials) is
enqueued only for a FHIR server the deployment configured; a patientId that would go into a FHIR URL
must be a FHIR id; a fhirServer the HTTP client cannot parse is a 400, not a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from services.cds_hooks import SYNC_TASK
from services.cds_hooks._egress import fhir_server_refusal

from .conftest import DATA, AppFactory, load_json
from .fhir_stub import FhirStub, searchset
from .test_cards import hook, med

SELECT = "/cds-services/twinrx-pgx-order-select"
NOT_FHIR_ID = "context.patientId is not a FHIR id (1-64 characters of A-Z a-z 0-9 - .)"
UNPARSABLE = "fhirServer is not a valid URL (the HTTP client cannot parse it)"


def _select(patient: Any, server: str | None, *, full_prefetch: bool = True) -> dict[str, Any]:
    body = hook("order-select", "cold1", med("draft-1", code="213169", display="clopidogrel 75 MG Oral Tablet"))
    body["context"]["patientId"] = patient
    if server is not None:
        body["fhirServer"] = server
    if full_prefetch:
        genotype = load_json(DATA / "genotype-cyp2c19-pm.json")
        body["prefetch"] = {"patient": load_json(DATA / "patient-cold1.json"), "genomics": searchset(genotype)}
    return body


def _queued(rclient: redis.Redis[bytes]) -> list[dict[str, Any]]:
    return [json.loads(raw)["headers"] for raw in rclient.lrange("twinrx", 0, -1)]


def _issue(client: TestClient, body: dict[str, Any]) -> tuple[str, list[str]]:
    resp = client.post(SELECT, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    (issue,) = resp.json()["issue"]
    where: list[str] = issue["expression"]
    return issue["diagnostics"].removeprefix(f"{where[0]}: "), where


def test_no_sync_is_enqueued_for_a_server_the_deployment_did_not_configure(
    make_client: AppFactory, stub: FhirStub, rclient: redis.Redis[bytes]
) -> None:
    client = make_client(auth=False, fhir_base_url="https://ehr.example/fhir")
    resp = client.post(SELECT, json=_select("cold1", stub.base))
    assert resp.status_code == 200
    assert "CYP2C19 Poor Metabolizer" in resp.json()["cards"][0]["summary"]
    client.app.state.runtime.background.drain()
    assert _queued(rclient) == []
    assert list(rclient.scan_iter("twinrx:cds:sync-queued:*")) == []
    assert stub.seen == []


def test_a_sync_is_enqueued_for_the_configured_server(
    make_client: AppFactory, stub: FhirStub, rclient: redis.Redis[bytes]
) -> None:
    client = make_client(auth=False, ingest_servers=[stub.base + "/"])
    assert client.post(SELECT, json=_select("cold1", stub.base)).status_code == 200
    client.app.state.runtime.background.drain()
    (task,) = _queued(rclient)
    assert task["task"] == SYNC_TASK
    assert "cold1" in task["kwargsrepr"]


@pytest.mark.parametrize("patient", ["../../admin", "a/b", "victim#x", "x" * 65, "a b"])
def test_a_patient_id_that_is_not_a_fhir_id_is_400_when_a_fhir_server_is_named(
    dev_client: TestClient, stub: FhirStub, rclient: redis.Redis[bytes], patient: str
) -> None:
    assert _issue(dev_client, _select(patient, stub.base, full_prefetch=False)) == (
        NOT_FHIR_ID,
        ["context.patientId"],
    )
    assert stub.seen == []
    assert _queued(rclient) == []


def test_without_a_fhir_server_the_patient_id_is_only_a_store_key(dev_client: TestClient) -> None:
    body = _select("local#1", None, full_prefetch=False) | {"prefetch": {"patient": None, "genomics": None}}
    resp = dev_client.post(SELECT, json=body)
    assert resp.status_code == 200
    assert resp.json()["cards"][0]["summary"] == (
        "Clopidogrel: CYP2C19 genotype unknown; consider pharmacogenomic testing"
    )


@pytest.mark.parametrize("patient", [42, ["p1"], {"id": "p1"}])
def test_a_patient_id_that_is_not_a_string_says_so(dev_client: TestClient, patient: Any) -> None:
    assert _issue(dev_client, _select(patient, None)) == (
        "context.patientId must be a string",
        ["context.patientId"],
    )


def test_a_fhir_server_the_http_client_cannot_parse_is_400(dev_client: TestClient) -> None:
    assert _issue(dev_client, _select("cold1", "http://0177.0.0.1/")) == (UNPARSABLE, ["fhirServer"])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://0177.0.0.1/", UNPARSABLE),
        ("http://0177.0.0.1:8080/fhir", UNPARSABLE),
        ("http://127.0.0.1:18099/fhir", None),
        ("https://ehr.example/fhir", None),
    ],
)
def test_fhir_server_refusal_parses_like_the_http_client(url: str, why: str | None) -> None:
    assert fhir_server_refusal(url) == why
