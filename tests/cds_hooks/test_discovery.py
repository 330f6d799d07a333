"""Discovery (CDS Hooks 2.0.1 D1-D12, P1-P5) and the exported API surface."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import services.cds_hooks as cds
from services.cds_hooks._discovery import VALID_TOKEN_RE, template_tokens

from .conftest import Key


def _no_nulls_or_empties(value: Any, path: str = "$") -> list[str]:
    bad: list[str] = []
    if value is None or value in ("", [], {}):
        bad.append(path)
    elif isinstance(value, dict):
        for k, v in value.items():
            bad += _no_nulls_or_empties(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad += _no_nulls_or_empties(v, f"{path}[{i}]")
    return bad


def test_discovery_lists_three_services_with_required_fields(client: TestClient, sandbox_key: Key) -> None:
    resp = client.get("/cds-services", headers=sandbox_key.bearer("/cds-services"))
    assert resp.status_code == 200
    services = resp.json()["services"]
    assert {(s["hook"], s["id"]) for s in services} == {
        ("order-select", "twinrx-pgx-order-select"),
        ("order-sign", "twinrx-pgx-order-sign"),
        ("patient-view", "twinrx-twin-summary"),
    }
    for service in services:
        assert service["title"] and service["description"]
        assert re.fullmatch(r"[A-Za-z0-9._~-]+", service["id"])
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert _no_nulls_or_empties(resp.json()) == []


def test_prefetch_templates_use_only_2_0_tokens_and_the_query_subset() -> None:
    for key, template in cds.PREFETCH_TEMPLATES.items():
        tokens = template_tokens(template)
        assert tokens, key
        assert all(VALID_TOKEN_RE.fullmatch(t) for t in tokens), (key, tokens)
        assert "_include" not in template and ":" not in template.split("?")[-1].split("=")[0], key
        assert "draftOrders" not in template and "context.medication" not in template


def test_pgx_services_ask_for_genotype_observations() -> None:
    genomics = cds.PREFETCH_TEMPLATES["genomics"]
    assert genomics.startswith("Observation?patient={{context.patientId}}&code=")
    assert "http://loinc.org|84413-4" in genomics and "http://loinc.org|81247-9" in genomics
    assert cds.SERVICES["twinrx-pgx-order-select"].prefetch_keys == ("patient", "genomics")
    assert set(cds.SERVICES["twinrx-twin-summary"].prefetch_keys) >= {"patient", "genomics", "labs", "meds"}


def test_discovery_requires_the_client_jwt(client: TestClient) -> None:
    resp = client.get("/cds-services")
    assert resp.status_code == 401
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_exported_members_match_all() -> None:
    public = {name for name in dir(cds) if not name.startswith("_")} - {"annotations", "errors", "deps", "cli"}
    assert set(cds.__all__) == public


def test_shipped_sandbox_trust_file_registers_the_sandbox_key(shared_data: Path) -> None:
    shipped = Path(cds.__file__).parent / "sandbox-trusted-clients.json"
    clients = cds.load_trusted_clients(shipped)
    sandbox = clients["https://sandbox.cds-hooks.org"]
    real = json.loads((shared_data / "cds" / "sandbox" / "sandbox-client-jwks.json").read_text())
    assert sandbox.jwks == real
    assert sandbox.jku == ["https://sandbox.cds-hooks.org/.well-known/jwks.json"]
