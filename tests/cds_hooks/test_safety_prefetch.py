"""Patient consistency: another patient's resources in prefetch, draft orders or fetched data never make a card.

Client-sent data naming another patient is a 400 naming where it is; data we fetched is dropped (and a
key left empty by that is unavailable, never "no data"); malformed prefetch values are 400, not 412.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from services.cds_hooks._consistency import other_subject, own_resources
from services.cds_hooks._discovery import SERVICES
from services.cds_hooks._models import HookRequest
from services.cds_hooks._prefetch import FhirFetcher, resolve_prefetch
from services.common.twin import Twin

from .conftest import DATA, gene, load_json
from .fhir_stub import COLD1_GENOMICS, FhirStub, searchset
from .test_cards import cards_of, hook, med

SELECT = "/cds-services/twinrx-pgx-order-select"
SIGN = "/cds-services/twinrx-pgx-order-sign"
VIEW = "/cds-services/twinrx-twin-summary"
GENOMICS = COLD1_GENOMICS
TOKEN = {"access_token": "opaque-token", "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "twinrx"}


def _genotype(subject: str = "Patient/cold1", rid: str = "gt-cyp2c19") -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(load_json(DATA / "genotype-cyp2c19-pm.json"))
    data["subject"] = {"reference": subject}
    data["id"] = rid
    return data


def _clopidogrel(**prefetch: Any) -> dict[str, Any]:
    body = hook("order-select", "cold1", med("draft-1", code="213169", display="clopidogrel 75 MG Oral Tablet"))
    body["prefetch"] = prefetch
    return body


def _refused(client: TestClient, path: str, body: dict[str, Any]) -> tuple[str, list[str]]:
    resp = client.post(path, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    (issue,) = resp.json()["issue"]
    assert issue["code"] == "invalid"
    (where,) = issue["expression"]
    prefix = f"{where}: "  # the handler prefixes the location to the message
    assert issue["diagnostics"].startswith(prefix), issue["diagnostics"]
    return issue["diagnostics"][len(prefix) :], issue["expression"]


def test_another_patients_genotype_in_prefetch_is_refused_not_used(dev_client: TestClient) -> None:
    body = _clopidogrel(genomics=searchset(_genotype("Patient/someone-else")))
    text, where = _refused(dev_client, SELECT, body)
    assert (
        text
        == "prefetch.genomics.entry[0] (Observation/gt-cyp2c19) is for Patient/someone-else, not the context patient"
    )
    assert where == ["prefetch.genomics.entry[0]"]
    # A single resource rather than a Bundle, and a mixed Bundle, are refused the same way.
    body = _clopidogrel(genomics=_genotype("Patient/someone-else"))
    text, _ = _refused(dev_client, SELECT, body)
    assert text == "prefetch.genomics is Observation/gt-cyp2c19 of Patient/someone-else, not the context patient"
    mixed = searchset(_genotype(rid="own"), _genotype("https://ehr.example/fhir/Patient/someone-else", rid="theirs"))
    text, where = _refused(dev_client, SELECT, _clopidogrel(genomics=mixed))
    assert "(Observation/theirs) is for Patient/someone-else" in text and where == ["prefetch.genomics.entry[1]"]


def test_own_genotype_by_absolute_or_versioned_reference_is_used(dev_client: TestClient) -> None:
    for subject in ("https://ehr.example/fhir/Patient/cold1", "Patient/cold1/_history/3"):
        (card,) = cards_of(dev_client, SELECT, _clopidogrel(genomics=searchset(_genotype(subject))))
        assert card["indicator"] == "warning" and "CYP2C19 Poor Metabolizer" in card["summary"]


def test_a_group_subject_is_not_the_patient() -> None:
    observation = {"resourceType": "Observation", "subject": {"reference": "Group/family-1"}}
    assert other_subject(observation, "cold1") == "Group/family-1"
    assert other_subject({"resourceType": "Observation", "subject": {"reference": "#p"}}, "cold1") is None
    assert other_subject({"resourceType": "Condition", "patient": {"reference": "Patient/x"}}, "cold1") == "Patient/x"


def test_prefetch_patient_must_be_the_context_patient(dev_client: TestClient) -> None:
    patient = load_json(DATA / "patient-cold1.json") | {"id": "other"}
    body = _clopidogrel(patient=patient, genomics=searchset(_genotype()))
    text, where = _refused(dev_client, SELECT, body)
    assert text == "prefetch.patient is Patient/other, not the context patient" and where == ["prefetch.patient"]
    body = _clopidogrel(patient=_genotype(), genomics=searchset(_genotype()))
    text, _ = _refused(dev_client, SELECT, body)
    assert text == "prefetch.patient must be a Patient resource, not Observation/gt-cyp2c19"
    # The summary service (where the patient key is essential) refuses it too.
    text, _ = _refused(dev_client, VIEW, {**hook("patient-view", "cold1"), "prefetch": {"patient": patient}})
    assert text == "prefetch.patient is Patient/other, not the context patient"


def test_prefetch_of_another_patient_is_refused_even_with_the_twin_stored(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    # a fresh stored twin means prefetch is never needed for the decision, but a request carrying another
    # patient's data is a patient-matching fault in the client and is refused all the same
    seed("local:demo", "cold1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    patient = load_json(DATA / "patient-cold1.json") | {"id": "other"}
    text, where = _refused(dev_client, SELECT, _clopidogrel(patient=patient))
    assert text == "prefetch.patient is Patient/other, not the context patient" and where == ["prefetch.patient"]
    (card,) = cards_of(dev_client, SELECT, _clopidogrel())  # without it the stored twin gives its card
    assert "CYP2C19 Poor Metabolizer" in card["summary"]


def test_an_overlong_patient_id_is_named_as_such(dev_client: TestClient) -> None:
    body = hook("order-select", "p1", med("m1", code="213169"))
    body["context"]["patientId"] = "x" * 100_000
    text, where = _refused(dev_client, SELECT, body)
    assert text == "context.patientId is 100000 characters long; at most 200" and where == ["context.patientId"]


def test_another_patients_medication_request_in_prefetch_is_refused(dev_client: TestClient) -> None:
    meds = searchset(med("active-1", code="213169", status="active", subject={"reference": "Patient/someone-else"}))
    body = {
        **hook("patient-view", "cold1"),
        "prefetch": {"patient": load_json(DATA / "patient-cold1.json"), "meds": meds},
    }
    text, where = _refused(dev_client, VIEW, body)
    assert (
        text
        == "prefetch.meds.entry[0] (MedicationRequest/active-1) is for Patient/someone-else, not the context patient"
    )
    assert where == ["prefetch.meds.entry[0]"]


@pytest.mark.parametrize(
    ("prefetch", "key", "text"),
    [
        ({"genomics": "garbage"}, "genomics", "prefetch.genomics must be a FHIR resource, a Bundle or null"),
        ({"patient": "notadict"}, "patient", "prefetch.patient must be a FHIR resource, a Bundle or null"),
        ({"genomics": {"entry": []}}, "genomics", "prefetch.genomics must be a FHIR resource, a Bundle or null"),
        ({"genomics": [1, 2]}, "genomics", "prefetch.genomics must be a FHIR resource, a Bundle or null"),
        (
            {"genomics": {"resourceType": "Bundle", "entry": "x"}},
            "genomics.entry",
            "prefetch.genomics.entry must be an array",
        ),
        (
            {"genomics": {"resourceType": "Bundle", "entry": [1, "x", None]}},
            "genomics.entry[0]",
            "prefetch.genomics.entry[0] must be an object",
        ),
        (
            {"genomics": {"resourceType": "Bundle", "entry": [{"resource": "x"}]}},
            "genomics.entry[0].resource",
            "prefetch.genomics.entry[0].resource must be a FHIR resource (an object with a resourceType)",
        ),
        (
            {"genomics": {"resourceType": "Bundle", "entry": [{"resource": {"id": "no-type"}}]}},
            "genomics.entry[0].resource",
            "prefetch.genomics.entry[0].resource must be a FHIR resource (an object with a resourceType)",
        ),
        (
            {"genomics": {"resourceType": "Patient", "id": "z"}},
            "genomics",
            "prefetch.genomics is Patient/z, not the context patient",
        ),
    ],
)
def test_malformed_prefetch_is_400_naming_the_key(
    dev_client: TestClient, prefetch: dict[str, Any], key: str, text: str
) -> None:
    diagnostics, where = _refused(dev_client, SELECT, _clopidogrel(**prefetch))
    assert diagnostics == text and where == [f"prefetch.{key}"]


def test_absent_data_is_still_412(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, json=_clopidogrel())
    assert resp.status_code == 412
    assert resp.json()["issue"][0]["expression"] == ["prefetch.genomics"]


def test_draft_order_for_another_patient_is_refused_even_with_the_twin_stored(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed("local:demo", "p1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    other = {"reference": "Patient/someone-else"}
    body = hook("order-select", "p1", med("m1", code="213169", subject=other))
    text, where = _refused(dev_client, SELECT, body)
    assert text == "draft order MedicationRequest/m1 is for Patient/someone-else, not the context patient"
    assert where == ["context.draftOrders.entry[0]"]
    # DSTU2 MedicationOrder names its patient in `patient`; an unselected draft counts too.
    dstu2 = {
        "resourceType": "MedicationOrder",
        "id": "mo1",
        "patient": other,
        "medicationCodeableConcept": {"text": "x"},
    }
    body = hook("order-select", "p1", med("m1", code="213169"), dstu2, selections=["MedicationRequest/m1"])
    text, where = _refused(dev_client, SELECT, body)
    assert text == "draft order MedicationOrder/mo1 is for Patient/someone-else, not the context patient"
    assert where == ["context.draftOrders.entry[1]"]
    body = hook("order-sign", "p1", med("m1", code="213169", subject={"reference": "Patient/p1"}))
    (card,) = cards_of(dev_client, SIGN, body)  # the context patient's own draft still gets its card
    assert "CYP2C19 Poor Metabolizer" in card["summary"]


def test_token_for_another_patient_is_refused(dev_client: TestClient, stub: FhirStub) -> None:
    body = _clopidogrel()
    body.pop("prefetch")
    body["fhirServer"] = stub.base
    body["fhirAuthorization"] = {**TOKEN, "patient": "someone-else"}
    text, where = _refused(dev_client, SELECT, body)
    assert text == "fhirAuthorization.patient is not the context patient" and where == ["fhirAuthorization.patient"]
    assert stub.seen == []


def test_fetched_resources_of_another_patient_are_dropped(dev_client: TestClient, stub: FhirStub) -> None:
    stub.routes["/Patient/cold1"] = (200, load_json(DATA / "patient-cold1.json"))
    body = _clopidogrel()
    body.pop("prefetch")
    body |= {"fhirServer": stub.base, "fhirAuthorization": TOKEN}
    # Only another patient's genotype came back: unavailable (412), not "genotype unknown, consider testing".
    stub.routes[GENOMICS] = (200, searchset(_genotype("Patient/someone-else")))
    resp = dev_client.post(SELECT, json=body)
    assert resp.status_code == 412 and resp.json()["issue"][0]["expression"] == ["prefetch.genomics"]
    # Another patient's Normal Metabolizer result next to the patient's own Poor Metabolizer one: ignored.
    normal = _genotype("Patient/someone-else", rid="theirs")
    normal["valueCodeableConcept"] = {"text": "CYP2C19*1/*1"}
    stub.routes[GENOMICS] = (200, searchset(normal, _genotype()))
    body["hookInstance"] = "second-call"
    (card,) = cards_of(dev_client, SELECT, body)
    assert "CYP2C19 Poor Metabolizer" in card["summary"] and "Observation/theirs" not in card["detail"]


def test_fetched_medication_request_of_another_patient_is_not_an_active_medication(stub: FhirStub) -> None:
    own = med("own-1", code="213169", status="active", subject={"reference": "Patient/cold1"})
    theirs = med("theirs-1", code="11289", status="active", subject={"reference": "Patient/someone-else"})
    stub.routes["/MedicationRequest?patient=cold1&status=active"] = (200, searchset(own, theirs))
    stub.routes["/Patient/*"] = (200, load_json(DATA / "patient-cold1.json"))
    request = HookRequest.model_validate(
        {**hook("patient-view", "cold1"), "fhirServer": stub.base, "fhirAuthorization": TOKEN}
    )
    with httpx.Client() as http:
        fetcher = FhirFetcher(http, request, time.monotonic() + 5)
        pre = resolve_prefetch(SERVICES["twinrx-twin-summary"], request, fetcher)
    assert [r["id"] for r in pre.resources["meds"]] == ["own-1"] and pre.state["meds"] == "ok"
    assert pre.state["patient"] == "ok"


def test_dropping_logs_a_warning_without_identifiers() -> None:
    theirs = _genotype("Patient/someone-else", rid="theirs")
    with capture_logs() as logs:
        kept, dropped = own_resources("genomics", [theirs, _genotype()], "cold1")
    assert [r["id"] for r in kept] == ["gt-cyp2c19"] and dropped == 1
    (event,) = logs
    assert event == {
        "event": "prefetch_other_patient_dropped",
        "log_level": "warning",
        "key": "genomics",
        "dropped": 1,
        "kept": 1,
    }


def test_fetched_patient_with_another_id_is_unavailable(stub: FhirStub) -> None:
    stub.routes["/Patient/cold1"] = (200, load_json(DATA / "patient-cold1.json") | {"id": "someone-else"})
    request = HookRequest.model_validate(
        {**hook("patient-view", "cold1"), "fhirServer": stub.base, "fhirAuthorization": TOKEN, "prefetch": {}}
    )
    with httpx.Client() as http:
        pre = resolve_prefetch(
            SERVICES["twinrx-twin-summary"], request, FhirFetcher(http, request, time.monotonic() + 5)
        )
    assert pre.state["patient"] == "unavailable" and pre.resources["patient"] == []
    assert pre.unavailable(SERVICES["twinrx-twin-summary"].essential) == ["patient"]
