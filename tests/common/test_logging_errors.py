from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog

from services.common.errors import InputFileError, TwinRxError, ValidationFailure, operation_outcome
from services.common.logging import configure_logging, get_logger, patient_ref


def test_phi_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    get_logger("t").info("twin.saved", patient_id="123", name="Jane Doe", diplotype="*2/*2", hookInstance="h-1")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event"] == "twin.saved"
    assert event["hookInstance"] == "h-1"
    assert event["patient_id"] == "[redacted]"
    assert event["name"] == "[redacted]"
    assert event["diplotype"] == "[redacted]"
    assert "Jane" not in line
    structlog.reset_defaults()


def test_patient_ref_is_stable_and_opaque() -> None:
    ref = patient_ref("https://ehr/fhir", "123")
    assert ref == patient_ref("https://ehr/fhir", "123")
    assert len(ref) == 12 and "123" not in ref
    assert ref != patient_ref("https://ehr/fhir", "124")


def test_operation_outcome_names_location() -> None:
    err = InputFileError("not a VCF", location="/tmp/x.vcf")
    outcome = operation_outcome(err)
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid",
                "diagnostics": "/tmp/x.vcf: not a VCF",
                "expression": ["/tmp/x.vcf"],
            }
        ],
    }


def test_error_tree_statuses() -> None:
    assert issubclass(ValidationFailure, TwinRxError)
    assert ValidationFailure("x").http_status == 422
    assert InputFileError("x").exit_code == 2


def test_http_client_request_lines_with_patient_urls_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)  # the root logger lets everything through; only the URL loggers are held
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"resourceType": "Patient"}))
    with httpx.Client(transport=transport) as client:
        assert client.get("https://ehr.example/fhir/Patient/pat-secret-42").status_code == 200
    logging.getLogger("twinrx.test").info("still-logged")
    messages = [record.getMessage() for record in caplog.records]
    assert "still-logged" in messages
    assert not any("pat-secret-42" in m for m in messages), messages
    structlog.reset_defaults()
