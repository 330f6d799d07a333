"""Property-based fuzzing of the OpenAPI document: no generated input produces a 5xx (dev and JWT mode)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cds_hooks import create_app

from .conftest import make_settings

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _fuzz(schema: schemathesis.BaseSchema, *, auth: str | None, examples: int) -> list[str]:
    """Run every operation's strategy; returns the operations exercised."""
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(_SETTINGS, max_examples=examples)
        def run(case: schemathesis.Case) -> None:
            headers = dict(case.headers or {})
            if auth is not None:
                headers["Authorization"] = auth
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text)
            if auth is not None:
                assert response.status_code in (400, 401, 404, 405, 413, 422)

        run()
    return seen


def test_no_server_error_in_dev_mode(redis_url: str) -> None:
    app = create_app(make_settings(redis_url, None, cds_time_budget_ms=100))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = _fuzz(schema, auth=None, examples=60)
    assert sorted(ops) == [
        "GET /cds-services",
        "POST /cds-services/{service_id}",
        "POST /cds-services/{service_id}/feedback",
    ]


def test_no_server_error_with_auth(redis_url: str, tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.json"
    trusted.write_text('{"clients": []}')
    app = create_app(make_settings(redis_url, trusted))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = _fuzz(schema, auth="Bearer eyJhbGciOiJub25lIn0.e30.", examples=20)
    assert sorted(ops) == [
        "GET /cds-services",
        "POST /cds-services/{service_id}",
        "POST /cds-services/{service_id}/feedback",
    ]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_resource_type = st.sampled_from(["MedicationRequest", "MedicationOrder", "Medication", "NutritionOrder", "Bundle", ""])
_concept = st.fixed_dictionaries(
    {},
    optional={
        "coding": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "system": st.sampled_from(["http://www.nlm.nih.gov/research/umls/rxnorm", "x"]) | _json,
                    "code": st.sampled_from(["213169", "32968", "617993", ""]) | _json,
                    "display": st.sampled_from(["clopidogrel 75 MG Oral Tablet", "codeine"]) | _json,
                },
            ),
            max_size=3,
        )
        | _json,
        "text": st.sampled_from(["simvastatin 40 MG", "warfarin"]) | _json,
    },
)
_resource = st.fixed_dictionaries(
    {"resourceType": _resource_type},
    optional={
        "id": st.sampled_from(["m1", "m2"]) | _json,
        "medicationCodeableConcept": _concept | _json,
        "medicationReference": st.fixed_dictionaries(
            {}, optional={"reference": st.sampled_from(["#c", "Medication/x"]) | _json, "display": _json}
        ),
        "contained": st.lists(
            st.fixed_dictionaries({"resourceType": st.just("Medication"), "id": st.just("c"), "code": _concept})
        )
        | _json,
        "dosageInstruction": _json,
        "subject": _json,
    },
)
_bundle = st.fixed_dictionaries(
    {},
    optional={
        "resourceType": st.sampled_from(["Bundle", "Patient"]) | _json,
        "entry": st.lists(st.fixed_dictionaries({"resource": _resource | _json}), max_size=3) | _json,
    },
)


def test_no_server_error_on_structured_hook_bodies(redis_url: str) -> None:
    """Bodies shaped like real hook calls (known ids and hooks) with arbitrary JSON where content goes."""
    from fastapi.testclient import TestClient

    from services.cds_hooks import SERVICES

    client = TestClient(
        create_app(make_settings(redis_url, None, cds_time_budget_ms=50)), raise_server_exceptions=False
    )
    services = st.sampled_from(sorted(SERVICES))

    @given(
        service=services,
        patient=st.sampled_from(["p1", ""]) | _json,
        draft=_bundle | _json,
        selections=st.lists(st.sampled_from(["MedicationRequest/m1", "MedicationRequest/m2"]) | _json, max_size=2)
        | _json,
        prefetch=st.dictionaries(
            st.sampled_from(["patient", "genomics", "labs", "meds"]), _bundle | _resource | _json, max_size=3
        )
        | _json,
        fhir=st.sampled_from([None, "http://127.0.0.1:9/fhir"]),
    )
    @settings(_SETTINGS, max_examples=200)
    def run(
        service: str, patient: object, draft: object, selections: object, prefetch: object, fhir: str | None
    ) -> None:
        body: dict[str, object] = {
            "hook": SERVICES[service].hook,
            "hookInstance": "fuzz",
            "context": {
                "patientId": patient,
                "userId": "Practitioner/1",
                "draftOrders": draft,
                "selections": selections,
            },
            "prefetch": prefetch,
        }
        if fhir:
            body["fhirServer"] = fhir
            body["fhirAuthorization"] = {
                "access_token": "t",
                "token_type": "Bearer",
                "expires_in": 30,
                "scope": "s",
                "subject": "x",
            }
        response = client.post(f"/cds-services/{service}", json=body)
        assert response.status_code < 500, (body, response.text)

    run()
    client.close()
