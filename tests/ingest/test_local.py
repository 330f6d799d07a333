"""The local folder source: Synthea transaction Bundles, Bulk NDJSON, IG examples, broken files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from services.ingest import scan_directory

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


def test_synthea_bundles_group_by_urn_uuid(synthea: Path) -> None:
    scan = scan_directory(synthea)
    assert len(scan) == 20
    assert scan.files == 22
    assert scan.read == 1931
    assert scan.skipped == []
    counts = Counter(r["resourceType"] for resources in scan.values() for r in resources)
    # The README's inventory: every clinical resource lands with its patient.
    assert counts["Patient"] == 20
    assert counts["Observation"] == 915
    assert counts["Condition"] == 57
    assert counts["MedicationRequest"] == 28
    assert counts["DiagnosticReport"] == 62
    # Organizations and Practitioners belong to no patient.
    assert Counter(k.split("/")[0] for k in scan.shared) == {"Organization": 102, "Practitioner": 102}
    assert len(scan[ALBERTO]) == 72


def test_bulk_ndjson_groups_by_relative_reference(bulk10: Path) -> None:
    scan = scan_directory(bulk10)
    assert len(scan) == 13
    assert scan.read == 2144
    assert scan.skipped == []  # log.ndjson is the export's event log, not resources
    assert len(scan["129c6ac7-8d06-89de-ad63-0204a93e76c3"]) == 151
    counts = Counter(r["resourceType"] for resources in scan.values() for r in resources)
    assert counts == {
        "Encounter": 1215,
        "Condition": 555,
        "Immunization": 161,
        "Device": 16,
        "Patient": 13,
        "AllergyIntolerance": 11,
    }


def test_ig_examples_with_absolute_full_urls(genomics_examples: Path) -> None:
    scan = scan_directory(genomics_examples)
    assert sorted(scan) == ["CGPatientExample01", "ExamplePatient", "HG00403", "patient"]
    ids = {r["id"] for r in scan["ExamplePatient"]}
    assert {"genotype-pgx-example", "med-impact-pgx-example", "haplotype-1-pgx-example"} <= ids


def test_broken_lines_and_resources_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    good = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    obs = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}, "status": "final"}
    lines = [orjson.dumps(good), orjson.dumps(obs)[:-9], orjson.dumps({"resourceType": "Condition"}), b"", b"[1]"]
    (tmp_path / "Mixed.000.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:abc", "resource": {"resourceType": "Patient"}},
            {
                "fullUrl": "urn:uuid:def",
                "resource": {"resourceType": "Observation", "subject": {"reference": "urn:uuid:abc"}},
            },
            {"resource": {"resourceType": "Observation"}},
            {"fullUrl": "urn:uuid:x"},
        ],
    }
    (tmp_path / "bundle.json").write_bytes(orjson.dumps(bundle))
    (tmp_path / "notjson.json").write_bytes(b"{not json")
    scan = scan_directory(tmp_path)
    assert sorted(scan) == ["abc", "p1"]
    # Entries without ids take the uuid of their fullUrl, as a server would assign on POST.
    assert [r["id"] for r in scan["abc"]] == ["abc", "def"]
    reasons = {s.reference: s.reason for s in scan.skipped}
    assert reasons == {
        "Mixed.000.ndjson:2": "invalid JSON line (truncated?)",
        "Condition/?": "id missing",
        "Mixed.000.ndjson:5": "not a FHIR resource (no resourceType)",
        "bundle.json#entry[2]": "id missing",
        "bundle.json#entry[3]": "entry without a resource",
        "notjson.json": "unreadable JSON at line 1 column 2: unexpected character, expected a string key",
    }


def test_shared_medication_is_attached_to_the_patients_that_reference_it(tmp_path: Path) -> None:
    resources = [
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": "x", "code": "1"}]}},
        {"resourceType": "Medication", "id": "m2"},
        {
            "resourceType": "MedicationRequest",
            "id": "r1",
            "status": "active",
            "subject": {"reference": "Patient/p1"},
            "medicationReference": {"reference": "Medication/m1"},
        },
    ]
    (tmp_path / "all.ndjson").write_bytes(b"\n".join(orjson.dumps(r) for r in resources))
    scan = scan_directory(tmp_path)
    assert [f"{r['resourceType']}/{r['id']}" for r in scan["p1"]] == [
        "Patient/p1",
        "MedicationRequest/r1",
        "Medication/m1",
    ]
