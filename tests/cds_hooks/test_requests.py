"""Request validation (R1-R8, G4-G5), HTTP edges (CORS, body limit, 404) and the error bodies."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from .conftest import AppFactory

SELECT = "/cds-services/twinrx-pgx-order-select"
SIGN = "/cds-services/twinrx-pgx-order-sign"
VIEW = "/cds-services/twinrx-twin-summary"

DRAFT = {
    "resourceType": "Bundle",
    "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft"}}],
}
GOOD: dict[str, Any] = {
    "hook": "order-select",
    "hookInstance": "0a8d5c6e-3c3e-4c52-9a43-41f7dbbd0e51",
    "context": {
        "patientId": "p1",
        "userId": "Practitioner/1",
        "selections": ["MedicationRequest/m1"],
        "draftOrders": DRAFT,
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if key.startswith("ctx_"):
            name = key[4:]
            if value is None:
                body["context"].pop(name, None)
            else:
                body["context"][name] = value
        elif value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def _issue(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def test_good_request_without_medication_gives_empty_cards(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, json=GOOD)
    assert resp.status_code == 200
    assert resp.json() == {"cards": []}


def test_unknown_hook_is_400(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, json=_with(hook="medication-prescribe"))
    assert resp.status_code == 400
    assert "unknown hook" in _issue(resp)["diagnostics"]


def test_hook_of_another_service_is_400(dev_client: TestClient) -> None:
    resp = dev_client.post(SIGN, json=GOOD)
    assert resp.status_code == 400
    assert _issue(resp)["expression"] == ["hook"]


def test_missing_hook_instance_is_400(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, json=_with(hookInstance=None))
    assert resp.status_code == 400
    assert "hookInstance" in _issue(resp)["diagnostics"]


def test_fhir_authorization_without_fhir_server_is_400(dev_client: TestClient) -> None:
    auth = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "x"}
    resp = dev_client.post(SELECT, json=_with(fhirAuthorization=auth))
    assert resp.status_code == 400
    assert _issue(resp)["expression"] == ["fhirServer"]


def test_malformed_context_is_400(dev_client: TestClient) -> None:
    cases = [
        (_with(ctx_patientId=None), "context.patientId"),
        (_with(ctx_patientId=42), "context.patientId"),
        (_with(ctx_draftOrders=None), "context.draftOrders"),
        (_with(ctx_draftOrders=["not", "a", "bundle"]), "context.draftOrders"),
        (_with(ctx_draftOrders={"resourceType": "Patient"}), "context.draftOrders.resourceType"),
        (_with(ctx_selections=None), "context.selections"),
        (_with(ctx_selections=["MedicationRequest/absent"]), "context.selections[0]"),
        (_with(context="not an object"), None),
        (_with(fhirServer="ftp://example.org/fhir"), "fhirServer"),
    ]
    for body, where in cases:
        resp = dev_client.post(SELECT, json=body)
        assert resp.status_code == 400, (where, resp.text)
        if where:
            assert _issue(resp)["expression"] == [where]


def test_invalid_json_is_400_not_500(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert _issue(resp)["code"] == "invalid"


def test_unknown_service_is_404(dev_client: TestClient) -> None:
    resp = dev_client.post("/cds-services/no-such-service", json=GOOD)
    assert resp.status_code == 404
    assert _issue(resp)["code"] == "not-found"


def test_extension_and_unknown_fields_are_ignored(dev_client: TestClient) -> None:
    body = _with(extension={"com.example.timestamp": "2017-11-27T22:13:25Z"}, unknownTopLevel=True)
    body["context"]["extension"] = {"org.example.x": 1}
    resp = dev_client.post(SELECT, json=body)
    assert resp.status_code == 200


def test_fhir_json_content_type_is_accepted(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, content=json.dumps(GOOD), headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 200


def test_body_over_the_limit_is_413(make_client: AppFactory) -> None:
    client = make_client(auth=False, cds_max_body_bytes=2048)
    big = _with(extension={"pad": "x" * 5000})
    resp = client.post(SELECT, json=big)
    assert resp.status_code == 413
    assert _issue(resp)["code"] == "too-costly"


def test_cors_preflight_is_answered_without_auth(client: TestClient) -> None:
    resp = client.options(
        SELECT,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
    assert "authorization" in resp.headers["access-control-allow-headers"].lower()


def test_cors_refuses_unknown_origins(client: TestClient) -> None:
    resp = client.options(SELECT, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in resp.headers


def test_patient_view_without_patient_id_is_400(dev_client: TestClient, shared_data: Any) -> None:
    """The spec's request-with-extension example carries no patientId: a clear 400."""
    body = json.loads((shared_data / "cds" / "spec-2.0.1" / "request-with-extension.json").read_text())
    resp = dev_client.post(VIEW, json=body)
    assert resp.status_code == 400
    assert _issue(resp)["expression"] == ["context.patientId"]


def test_wrong_method_is_405_outcome(dev_client: TestClient) -> None:
    resp = dev_client.get(SELECT)
    assert resp.status_code == 405
    assert _issue(resp)["code"] == "not-supported"


def test_fhir_server_allow_list(make_client: AppFactory) -> None:
    client = make_client(auth=False, cds_allowed_fhir_servers=["https://ehr.example.org/fhir"])
    assert client.post(SELECT, json=_with(fhirServer="https://ehr.example.org/fhir/")).status_code == 200
    resp = client.post(SELECT, json=_with(fhirServer="https://internal.example/admin"))
    assert resp.status_code == 400
    assert _issue(resp)["expression"] == ["fhirServer"]
    assert client.post(SELECT, json=_with(fhirServer="https://ehr.example.org/fhirx")).status_code == 400


def test_chunked_body_over_the_limit_is_413_and_under_it_works(make_client: AppFactory) -> None:
    client = make_client(auth=False, cds_max_body_bytes=4096)

    def chunks(payload: bytes, size: int = 500) -> Iterator[bytes]:
        for start in range(0, len(payload), size):
            yield payload[start : start + size]

    big = json.dumps(_with(extension={"pad": "x" * 9000})).encode()
    resp = client.post(SELECT, content=chunks(big), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    small = json.dumps(GOOD).encode()
    resp = client.post(SELECT, content=chunks(small, 100), headers={"Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json() == {"cards": []}
