"""An unknown service id is 404 whatever the method; a known one still answers 405 to GET."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import Key


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_service_is_404_naming_it(dev_client: TestClient, method: str) -> None:
    resp = dev_client.request(method, "/cds-services/unknown")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/fhir+json")
    (issue,) = resp.json()["issue"]
    assert issue["code"] == "not-found" and issue["diagnostics"] == "no CDS service with id 'unknown'"


def test_get_on_a_known_service_is_405(dev_client: TestClient) -> None:
    resp = dev_client.get("/cds-services/twinrx-twin-summary")
    assert resp.status_code == 405
    (issue,) = resp.json()["issue"]
    assert issue["code"] == "not-supported"
    assert issue["diagnostics"] == "CDS service twinrx-twin-summary is called with POST"


def test_unknown_service_needs_authentication_first(client: TestClient, sandbox_key: Key) -> None:
    assert client.get("/cds-services/unknown").status_code == 401
    resp = client.get("/cds-services/unknown", headers=sandbox_key.bearer("/cds-services/unknown"))
    assert resp.status_code == 404
