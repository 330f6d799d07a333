"""The demo path (`twinrx demo --data DIR`) on the real files in ``../shared/data/fhir``.

Same real parts as test_demo_path: Redis database 4, a ``twinrx worker`` subprocess, the ``twinrx serve``
API over HTTP. Skipped (with the reason printed) only when ``../shared`` is absent.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import redis

from services.common.store import TwinStore
from services.demo import DemoOptions, DemoResult, run_demo

pytestmark = pytest.mark.integration


def _demo(options: DemoOptions, folder: Path, out: Path) -> DemoResult:
    return run_demo(replace(options, data=folder, out=out))


def _patients_in(folder: Path) -> dict[str, str]:
    """Patient id -> birthDate of every Patient in a folder of Bundles (read independently of ingest)."""
    found: dict[str, str] = {}
    for file in sorted(folder.glob("*.json")):
        document = orjson.loads(file.read_bytes())
        entries = document.get("entry", []) if document.get("resourceType") == "Bundle" else [{"resource": document}]
        for entry in entries:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                found[resource["id"]] = resource["birthDate"]
    return found


def test_every_synthea_bundle_ingests_without_error(
    shared_data: Path, demo_options: DemoOptions, tmp_path: Path
) -> None:
    folder = shared_data / "fhir" / "synthea"
    expected = _patients_in(folder)
    assert len(expected) == 20

    run = _demo(demo_options, folder, tmp_path / "report")

    assert run.patient_ids == sorted(expected)
    assert run.ingest.failed == 0
    assert run.ingest.skipped == 0
    assert run.ingest.statuses == {"created": len(expected)}
    assert sorted(run.twins) == sorted(expected)
    assert demo_options.redis_url is not None
    store = TwinStore(redis.Redis.from_url(demo_options.redis_url))
    for patient_id, birth_date in expected.items():
        twin = store.get(demo_options.server, patient_id)
        assert twin is not None
        assert twin.demographics.birth_date is not None
        assert twin.demographics.birth_date.isoformat() == birth_date
        assert twin.labs, patient_id  # Synthea records carry coded labs and vitals
    # No genotype on record: gene-specific drugs get a "consider testing" card, amoxicillin nothing.
    for patient_id in expected:
        assert run.cards_for(patient_id, "amoxicillin") == []
        clopidogrel = run.cards_for(patient_id, "clopidogrel")
        assert [(c["indicator"], c["summary"]) for c in clopidogrel] == [
            ("info", "Clopidogrel: CYP2C19 genotype unknown; consider pharmacogenomic testing")
        ]


def test_genomics_examples_give_the_cyp2c19_poor_metabolizer_card_for_clopidogrel(
    shared_data: Path, demo_options: DemoOptions, tmp_path: Path
) -> None:
    run = _demo(demo_options, shared_data / "fhir" / "genomics-examples", tmp_path / "report")

    assert "CGPatientExample01" in run.twins
    assert run.ingest.failed == 0
    cards = run.cards_for("CGPatientExample01", "clopidogrel")
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Clopidogrel: use an alternative (CYP2C19 Poor Metabolizer); consider prasugrel or ticagrelor"
    )
    # the diplotype and where it came from: the lab's genotype Observation
    assert re.search(r"\| CYP2C19 \| \*2/\*2 \| Poor Metabolizer \| . \| Observation/Pgx-geno-1001", card["detail"])
    created = {
        a["resource"]["medicationCodeableConcept"]["coding"][0]["display"]
        for s in card["suggestions"]
        for a in s["actions"]
        if a["type"] == "create"
    }
    assert created == {"prasugrel", "ticagrelor"}
    assert run.cards_for("CGPatientExample01", "amoxicillin") == []


def test_bulk_ndjson_export_ingests_every_patient(shared_data: Path, demo_options: DemoOptions, tmp_path: Path) -> None:
    folder = shared_data / "fhir" / "bulk-ndjson-10-patients"
    lines = (folder / "Patient.000.ndjson").read_bytes().splitlines()
    expected = sorted(orjson.loads(line)["id"] for line in lines if line.strip())

    run = _demo(demo_options, folder, tmp_path / "report")

    assert run.patient_ids == expected
    assert sorted(run.twins) == expected
    assert run.ingest.failed == 0
