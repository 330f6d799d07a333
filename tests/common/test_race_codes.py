"""The US Core race codes: one definition, read by ingest and written by the demo's FHIR builder."""

from __future__ import annotations

from typing import Any

from services.common import codes
from services.ingest._extract import Inputs, extract_patient


def _patient(code: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "extension": [
            {
                "url": codes.US_CORE_RACE,
                "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": codes.CDC_RACE_ETHNICITY, "code": code}}
                ],
            }
        ],
    }


def test_omb_codes_are_the_us_core_ones() -> None:
    assert codes.US_CORE_RACE == "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
    assert codes.CDC_RACE_ETHNICITY == "urn:oid:2.16.840.1.113883.6.238"
    assert {k: v[0] for k, v in codes.OMB_RACE_CODES.items()} == {"white": "2106-3", "black": "2054-5"}


def test_ingest_reads_each_category_and_other_codes_as_other() -> None:
    found = {}
    for code in ("2106-3", "2054-5", "2028-9"):  # 2028-9: Asian, not a pooled-cohort-equation category
        inputs = Inputs()
        extract_patient(_patient(code), inputs)
        found[code] = inputs.demographics.race
    assert found == {"2106-3": "white", "2054-5": "black", "2028-9": "other"}
