"""Prefetch rules against a real HTTP FHIR server: absent -> fetch with the token, null -> no data,
OperationOutcome -> unavailable (re-fetch), 412 when essential data cannot be had; cold twin + sync."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from services.cds_hooks import SYNC_TASK
from services.common.store import twin_key
from services.common.twin import Twin

from .conftest import DATA, AppFactory, gene, load_json
from .fhir_stub import COLD1_GENOMICS, FhirStub, searchset
from .test_cards import cards_of, hook, med

SELECT = "/cds-services/twinrx-pgx-order-select"
VIEW = "/cds-services/twinrx-twin-summary"
TOKEN = "opaque-access-token-123"
GENOMICS = COLD1_GENOMICS


@pytest.fixture
def genotype() -> dict[str, Any]:
    data: dict[str, Any] = load_json(DATA / "genotype-cyp2c19-pm.json")
    return data


def _request(stub: FhirStub, *, token: bool = True, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body = hook(
        "order-select", "cold1", med("draft-1", code="213169", display="clopidogrel 75 MG Oral Tablet [Plavix]")
    )
    body["fhirServer"] = stub.base
    if token:
        body["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "twinrx",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _queued_tasks(rclient: redis.Redis[bytes]) -> list[dict[str, Any]]:
    messages = [json.loads(raw) for raw in rclient.lrange("twinrx", 0, -1)]
    return [m["headers"] for m in messages]


def test_absent_key_is_fetched_with_the_token_and_a_sync_is_enqueued(
    make_client: AppFactory, stub: FhirStub, genotype: dict[str, Any], rclient: redis.Redis[bytes]
) -> None:
    # a background sync goes only to a server the deployment configured (the worker's credentials go there)
    dev_client = make_client(auth=False, fhir_base_url=stub.base)
    stub.routes[GENOMICS] = (200, searchset(genotype))
    stub.routes["/Patient/cold1"] = (200, load_json(DATA / "patient-cold1.json"))
    (card,) = cards_of(dev_client, SELECT, _request(stub))
    assert card["indicator"] == "warning" and "CYP2C19 Poor Metabolizer" in card["summary"]
    assert "Observation/gt-cyp2c19" in card["detail"] and "2024-05-02" in card["detail"]
    assert sorted(s.path for s in stub.seen) == sorted([GENOMICS, "/Patient/cold1"])
    assert {s.authorization for s in stub.seen} == {f"Bearer {TOKEN}"}
    dev_client.app.state.runtime.background.drain()  # the publish happens after the answer
    (task,) = _queued_tasks(rclient)
    assert task["task"] == SYNC_TASK
    assert "cold1" in task["argsrepr"] + task["kwargsrepr"]
    cards_of(dev_client, SELECT, _request(stub))
    dev_client.app.state.runtime.background.drain()
    assert len(_queued_tasks(rclient)) == 1  # de-duplicated while one is pending


def test_prefetched_data_is_used_without_calling_the_server(
    dev_client: TestClient, stub: FhirStub, genotype: dict[str, Any]
) -> None:
    prefetch = {"patient": load_json(DATA / "patient-cold1.json"), "genomics": searchset(genotype)}
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch=prefetch))
    assert "CYP2C19" in card["summary"]
    assert stub.seen == []


def test_null_means_no_data_and_is_not_refetched(dev_client: TestClient, stub: FhirStub) -> None:
    stub.routes[GENOMICS] = (500, {})
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch={"patient": None, "genomics": None}))
    assert card["summary"] == "Clopidogrel: CYP2C19 genotype unknown; consider pharmacogenomic testing"
    assert stub.seen == []


def test_operation_outcome_counts_as_unavailable_and_is_refetched(
    dev_client: TestClient, stub: FhirStub, genotype: dict[str, Any]
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    stub.routes[GENOMICS] = (200, searchset(genotype))
    prefetch = {"patient": load_json(DATA / "patient-cold1.json"), "genomics": outcome}
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch=prefetch))
    assert "CYP2C19 Poor Metabolizer" in card["summary"]
    assert [s.path for s in stub.seen] == [GENOMICS]


def test_absent_essential_key_without_token_is_412(dev_client: TestClient, stub: FhirStub) -> None:
    resp = dev_client.post(SELECT, json=_request(stub, token=False))
    assert resp.status_code == 412
    issue = resp.json()["issue"][0]
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "incomplete" and issue["expression"] == ["prefetch.genomics"]
    assert stub.seen == []


def test_operation_outcome_without_token_is_412(dev_client: TestClient, stub: FhirStub) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    resp = dev_client.post(SELECT, json=_request(stub, token=False, prefetch={"genomics": outcome}))
    assert resp.status_code == 412


def test_server_error_is_412(dev_client: TestClient, stub: FhirStub) -> None:
    stub.routes[GENOMICS] = (500, {"resourceType": "OperationOutcome", "issue": []})
    assert dev_client.post(SELECT, json=_request(stub)).status_code == 412
    assert [s.path for s in stub.seen if s.path.startswith("/Observation")] == [GENOMICS]


def test_server_slower_than_the_budget_is_412(
    make_client: AppFactory, stub: FhirStub, genotype: dict[str, Any]
) -> None:
    client = make_client(auth=False, cds_time_budget_ms=100)
    stub.routes[GENOMICS] = (200, searchset(genotype))
    stub.delay = 1.0
    assert client.post(SELECT, json=_request(stub)).status_code == 412


def test_unreachable_server_is_412(dev_client: TestClient, stub: FhirStub) -> None:
    body = _request(stub)
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    assert dev_client.post(SELECT, json=body).status_code == 412


def test_next_pages_are_followed_on_the_same_server_only(
    dev_client: TestClient, stub: FhirStub, genotype: dict[str, Any]
) -> None:
    stub.routes[GENOMICS] = (200, searchset(next_url=f"{stub.base}/page-2"))
    stub.routes["/page-2"] = (200, searchset(genotype))
    (card,) = cards_of(dev_client, SELECT, _request(stub))
    assert "CYP2C19 Poor Metabolizer" in card["summary"]
    stub.seen.clear()
    prefetch = {"genomics": searchset(next_url="http://attacker.example/steal")}
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch=prefetch))
    assert "genotype unknown" in card["summary"]
    assert [s.path for s in stub.seen] == ["/Patient/cold1"]  # the absent patient key; never the foreign link


def test_medication_reference_is_fetched_from_the_server(
    dev_client: TestClient, stub: FhirStub, seed: Callable[..., Twin]
) -> None:
    seed(stub.base, "cold1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    stub.routes["/Medication/plavix"] = (
        200,
        {"resourceType": "Medication", "id": "plavix", "code": {"text": "Plavix 75 MG"}},
    )
    body = _request(stub)
    body["context"]["draftOrders"]["entry"][0]["resource"] = med(
        "draft-1", medicationReference={"reference": "Medication/plavix"}
    )
    (card,) = cards_of(dev_client, SELECT, body)
    assert card["summary"].startswith("Clopidogrel")
    assert [s.path for s in stub.seen] == ["/Medication/plavix"]


def test_stale_twin_is_refreshed_from_prefetch(
    dev_client: TestClient,
    stub: FhirStub,
    seed: Callable[..., Twin],
    rclient: redis.Redis[bytes],
    genotype: dict[str, Any],
) -> None:
    twin = seed(stub.base, "cold1", gene("CYP2C19", "*1/*1", "Normal Metabolizer"))
    old = twin.model_copy(update={"updated_at": datetime.now(UTC) - timedelta(days=30)})
    rclient.hset(twin_key(stub.base, "cold1"), "body", old.model_dump_json())
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch={"genomics": searchset(genotype)}))
    assert "Poor Metabolizer" in card["summary"]


def test_stale_twin_is_used_when_nothing_fresher_is_available(
    dev_client: TestClient, stub: FhirStub, seed: Callable[..., Twin], rclient: redis.Redis[bytes]
) -> None:
    twin = seed(stub.base, "cold1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    old = twin.model_copy(update={"updated_at": datetime.now(UTC) - timedelta(days=30)})
    rclient.hset(twin_key(stub.base, "cold1"), "body", old.model_dump_json())
    (card,) = cards_of(dev_client, SELECT, _request(stub, token=False))
    assert "Poor Metabolizer" in card["summary"]


def test_warm_twin_needs_no_prefetch_and_no_server(
    dev_client: TestClient, stub: FhirStub, seed: Callable[..., Twin]
) -> None:
    seed(stub.base, "cold1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    (card,) = cards_of(dev_client, SELECT, _request(stub, token=False))
    assert "Poor Metabolizer" in card["summary"]
    assert stub.seen == []


def test_patient_view_cold_from_prefetch(dev_client: TestClient, stub: FhirStub, genotype: dict[str, Any]) -> None:
    body = {
        "hook": "patient-view",
        "hookInstance": "pv-cold-1",
        "fhirServer": stub.base,
        "context": {"patientId": "cold1", "userId": "Practitioner/1"},
        "prefetch": {
            "patient": load_json(DATA / "patient-cold1.json"),
            "genomics": searchset(genotype),
            "labs": None,
            "vitals": None,
            "smoking": None,
            "conditions": None,
            "meds": None,
        },
    }
    (card,) = cards_of(dev_client, VIEW, body)
    assert card["summary"].startswith("Twin: 1 actionable PGx phenotype (CYP2C19)")
    assert "| CYP2C19 | Poor Metabolizer | *2/*2 |" in card["detail"]
    assert "clopidogrel" in card["detail"]
    assert "(prefetch)" in card["detail"]
    assert stub.seen == []


def test_broker_outage_does_not_cost_the_card(
    make_client: AppFactory, stub: FhirStub, genotype: dict[str, Any], rclient: redis.Redis[bytes]
) -> None:
    """The sync publish fails (unreachable broker): the answer is unchanged and the dedupe key is released."""
    client = make_client(auth=False)
    enqueuer = client.app.state.runtime.enqueuer
    enqueuer._broker_url = "redis://127.0.0.1:1/0"
    enqueuer._celery = None
    from services.common.celery_app import create_celery
    from services.common.settings import Settings

    enqueuer._celery = create_celery(Settings(environment="test", redis_url="redis://127.0.0.1:1/0"))
    enqueuer._celery.conf.broker_connection_max_retries = 0
    enqueuer._celery.conf.broker_transport_options = {"max_retries": 0}
    prefetch = {"patient": load_json(DATA / "patient-cold1.json"), "genomics": searchset(genotype)}
    (card,) = cards_of(client, SELECT, _request(stub, prefetch=prefetch))
    assert "CYP2C19 Poor Metabolizer" in card["summary"]
    client.app.state.runtime.background.drain(timeout=30)
    assert _queued_tasks(rclient) == []
    assert list(rclient.scan_iter("twinrx:cds:sync-queued:*")) == []


def test_unreadable_stored_twin_is_rebuilt_from_prefetch(
    dev_client: TestClient, stub: FhirStub, rclient: redis.Redis[bytes], genotype: dict[str, Any]
) -> None:
    rclient.hset(twin_key(stub.base, "cold1"), mapping={"version": "3", "body": '{"schema_version": 99, "odd": true}'})
    (card,) = cards_of(dev_client, SELECT, _request(stub, prefetch={"genomics": searchset(genotype)}))
    assert "CYP2C19 Poor Metabolizer" in card["summary"]
