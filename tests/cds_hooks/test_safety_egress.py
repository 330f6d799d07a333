"""SSRF guard: a hook's fhirServer never makes the service call a metadata or link-local address,
even with the allow-list empty (the default); ordinary and private-network EHRs stay allowed."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from services.cds_hooks import create_app
from services.cds_hooks._consistency import check_request
from services.cds_hooks._discovery import SERVICES
from services.cds_hooks._egress import fhir_server_refusal
from services.cds_hooks._engines import Engines
from services.cds_hooks._models import HookRequest
from services.cds_hooks._prefetch import FhirFetcher
from services.cds_hooks.errors import BadHookRequest

from .conftest import make_settings
from .test_cards import hook, med

SELECT = "/cds-services/twinrx-pgx-order-select"
TOKEN = {"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "t"}
LINK_LOCAL = "fhirServer is a link-local address (cloud metadata services live there)"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest", LINK_LOCAL),
        ("http://169.254.169.254./latest", LINK_LOCAL),
        ("http://2852039166/latest", LINK_LOCAL),  # 169.254.169.254 as one decimal number
        ("http://0xa9.0xfe.0xa9.0xfe/", LINK_LOCAL),
        ("http://0251.0376.0251.0376/", LINK_LOCAL),
        ("https://[fe80::1]/fhir", LINK_LOCAL),
        ("http://[::ffff:169.254.169.254]/", LINK_LOCAL),
        ("http://[64:ff9b::a9fe:a9fe]/", LINK_LOCAL),
        ("http://metadata.google.internal/computeMetadata/v1", "fhirServer is a cloud metadata service"),
        ("http://METADATA.GOOGLE.INTERNAL./", "fhirServer is a cloud metadata service"),
        ("http://instance-data/latest", "fhirServer is a cloud metadata service"),
        ("http://100.100.100.200/latest", "fhirServer is a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest", "fhirServer is a cloud metadata address"),
        ("http://0.0.0.0:8080/fhir", "fhirServer is not a server address"),
        ("file:///etc/passwd", "fhirServer must be an http(s) URL"),
        ("gopher://ehr.example/", "fhirServer must be an http(s) URL"),
        ("https://user:pw@ehr.example/fhir", "fhirServer must not carry credentials"),
        ("https://ehr.example:99999/fhir", "fhirServer is not a valid URL"),
        ("https:///fhir", "fhirServer has no host"),
    ],
)
def test_refused_servers(url: str, why: str) -> None:
    assert fhir_server_refusal(url) == why


@pytest.mark.parametrize(
    "url",
    ["https://fhir.hospital.example/r4", "http://127.0.0.1:8080/fhir", "http://10.20.30.40/fhir", "https://[::1]/r4"],
)
def test_ehr_servers_are_allowed(url: str) -> None:
    assert fhir_server_refusal(url) is None


def test_the_fetcher_never_calls_a_refused_server() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    body = hook("order-select", "p1", med("m1", code="213169"))
    request = HookRequest.model_validate(
        body | {"fhirServer": "http://169.254.169.254/latest", "fhirAuthorization": TOKEN}
    )
    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        fetcher = FhirFetcher(http, request, time.monotonic() + 5)
        assert fetcher.enabled is False
        assert fetcher.get("Patient/p1") is None
    assert sent == []
    with pytest.raises(BadHookRequest) as refused:
        check_request(SERVICES["twinrx-pgx-order-select"], request, "p1")
    assert refused.value.location == "fhirServer" and refused.value.message == LINK_LOCAL


def test_hook_naming_the_metadata_service_gets_no_fetch_and_no_card(redis_url: str, engines: Engines) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})

    http = httpx.Client(transport=httpx.MockTransport(record))
    app = create_app(make_settings(redis_url, None), engines=engines, http_client=http)
    body = hook("order-select", "p1", med("m1", code="213169", display="clopidogrel 75 MG Oral Tablet"))
    body |= {"fhirServer": "http://169.254.169.254/latest", "fhirAuthorization": TOKEN}
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post(SELECT, json=body)
        app.state.runtime.background.drain()
    http.close()
    assert sent == []  # the token never left: no request to the metadata address
    # refused in validate(), before any twin read, fetch or background sync
    assert resp.status_code == 400, resp.text
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["expression"] == ["fhirServer"]
