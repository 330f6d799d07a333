"""Integration with sekmet-fhir, a real R4 server (own venv, SMART Backend Services, paging, $export).

Loaded with the 20 Synthea bundles, the IG PGx examples and one patient built here with a VCF
attachment, medications and the labs the risk equations need; write-back is read back from it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.common.fhir import FhirClient, SmartBackendAuth
from services.common.settings import Settings
from services.common.store import TwinStore
from services.ingest import Runtime, build_twin, make_runtime, scan_directory
from services.ingest._clients import client_for, reset_clients
from services.ingest._incremental import incremental_sync
from services.ingest._jobs import sync_chunk_job, sync_patient_job
from services.ingest._population import export_population
from services.ingest._writeback import write_back_patient
from tests.ingest import _sekmet

pytestmark = pytest.mark.integration

SYNTHEA_ID_SYSTEM = "https://github.com/synthetichealth/synthea"
L = "http://loinc.org"
OMB = "urn:oid:2.16.840.1.113883.6.238"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def _pgx_patient(vcf: bytes) -> list[dict[str, Any]]:
    subject = {"reference": "Patient/twin-pgx-1"}

    def lab(rid: str, code: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "category": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
                    ]
                }
            ],
            "code": {"coding": [{"system": L, "code": code}]},
            "subject": subject,
            "effectiveDateTime": "2025-03-01T09:00:00Z",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }

    return [
        {"resourceType": "Patient", "id": "twin-pgx-1", "gender": "male", "birthDate": "1962-04-10",
         "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                        "extension": [{"url": "ombCategory", "valueCoding": {"system": OMB, "code": "2106-3"}},
                                      {"url": "text", "valueString": "White"}]}]},
        lab("twin-pgx-chol", "2093-3", 231, "mg/dL"),
        lab("twin-pgx-hdl", "2085-9", 41, "mg/dL"),
        lab("twin-pgx-sbp", "8480-6", 148, "mm[Hg]"),
        lab("twin-pgx-egfr", "98979-8", 74, "mL/min/{1.73_m2}"),
        lab("twin-pgx-bmi", "39156-5", 29.4, "kg/m2"),
        {"resourceType": "Observation", "id": "twin-pgx-smoke", "status": "final",
         "code": {"coding": [{"system": L, "code": "72166-2"}]}, "subject": subject,
         "effectiveDateTime": "2025-03-01T09:00:00Z",
         "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]}},
        {"resourceType": "MedicationRequest", "id": "twin-pgx-clopidogrel", "status": "active", "intent": "order",
         "subject": subject, "authoredOn": "2025-03-02",
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "309362",
                                                   "display": "clopidogrel 75 MG Oral Tablet"}]}},
        {"resourceType": "DocumentReference", "id": "twin-pgx-vcf", "status": "current", "subject": subject,
         "date": "2025-02-20T00:00:00Z",
         "content": [{"attachment": {"contentType": "text/vcf", "title": "sample.vcf",
                                     "data": base64.b64encode(vcf).decode()}}]},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[_sekmet.Sekmet]:
    server = _sekmet.start(tmp_path_factory.mktemp("sekmet"))
    try:
        auth = SmartBackendAuth(
            base_url=server.base,
            client_id=_sekmet.CLIENT_ID,
            private_key_pem=server.key_pem,
            key_id=_sekmet.KID,
            scope="system/*.cruds",
        )
        with FhirClient(server.base, auth=auth, timeout=120) as client:
            for bundle in sorted((shared_data / "fhir" / "synthea").glob("*.json")):
                client.transaction(orjson.loads(bundle.read_bytes()))
            examples = shared_data / "fhir" / "genomics-examples"
            client.transaction(orjson.loads((examples / "Bundle-bundle-pgxexample.json").read_bytes()))
            singles = [
                orjson.loads(p.read_bytes())
                for p in sorted(examples.glob("*.json"))
                if p.name.startswith(
                    ("Patient-CGPatientExample01", "Observation-Pgx-geno", "Observation-TxImp", "Organization-")
                )
            ]
            client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in singles]})
            vcf = (shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testRecommendationExamples.vcf").read_bytes()
            client.transaction(
                {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in _pgx_patient(vcf)]}
            )
        yield server
    finally:
        server.stop()


@pytest.fixture
def sk_rt(ingest_redis_url: str, tmp_path: Path, sekmet: _sekmet.Sekmet) -> Iterator[Runtime]:
    settings = Settings(
        redis_url=ingest_redis_url,
        ingest_work_dir=tmp_path / "work",
        fhir_base_url=sekmet.base,  # the worker's SMART credentials go only to a configured server
        smart_client_id=_sekmet.CLIENT_ID,
        smart_private_key=sekmet.key_pem.decode(),  # type: ignore[arg-type]
        smart_key_id=_sekmet.KID,
        smart_scope="system/*.cruds",
        ingest_chunk_patients=8,
        sync_overlap_minutes=0,
    )
    reset_clients()
    yield make_runtime(settings)
    reset_clients()


def _server_patient_ids(client: FhirClient) -> dict[str, str]:
    """Synthea uuid identifier -> server id (the server assigned new ids to the POSTed bundles)."""
    found = {}
    for patient in client.search("Patient", {"_count": "10"}):
        for ident in patient.get("identifier", []):
            if ident.get("system") == SYNTHEA_ID_SYSTEM:
                found[ident["value"]] = patient["id"]
    return found


def test_sync_over_smart_auth_with_paging_matches_the_local_build(
    sk_rt: Runtime, sekmet: _sekmet.Sekmet, synthea: Path
) -> None:
    client = client_for(sk_rt.settings, sekmet.base)
    ids = _server_patient_ids(client)
    assert len(ids) == 20
    assert client.stats.pages >= 3  # 24 patients at 10 per page, following sekmet's next links
    local = scan_directory(synthea)
    synthea_uuid = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"
    local_patient = next(r for r in local[synthea_uuid] if r["resourceType"] == "Patient")
    uuid_ident = next(i["value"] for i in local_patient["identifier"] if i.get("system") == SYNTHEA_ID_SYSTEM)
    server_id = ids[uuid_ident]
    result = sync_patient_job(sk_rt, sekmet.base, server_id, {"kind": "rest", "base_url": sekmet.base})
    assert result["status"] == "created"
    twin = TwinStore(sk_rt.redis).get(sekmet.base, server_id)
    expected = build_twin("local", synthea_uuid, local[synthea_uuid]).twin
    assert twin is not None
    assert {k: (v.value, v.unit) for k, v in twin.labs.items()} == {
        k: (v.value, v.unit) for k, v in expected.labs.items()
    }
    assert twin.demographics == expected.demographics.model_copy(update={"source": twin.demographics.source})
    assert all(v.source.version == "1" for v in twin.labs.values())
    assert client.auth.tokens_issued == 1  # type: ignore[attr-defined]


def test_ig_patient_genomics_over_rest(sk_rt: Runtime, sekmet: _sekmet.Sekmet) -> None:
    result = sync_patient_job(sk_rt, sekmet.base, "CGPatientExample01", {"kind": "rest", "base_url": sekmet.base})
    assert result["status"] == "created"
    twin = TwinStore(sk_rt.redis).get(sekmet.base, "CGPatientExample01")
    assert twin is not None
    calls = {g.gene: (g.diplotype, g.phenotype) for g in twin.genotype_inputs}
    assert calls["CYP2C19"] == ("*2/*2", "Poor Metabolizer")
    assert calls["CYP2C9"] == ("*1/*1", "Normal Metabolizer")
    assert twin.pgx["CYP2C19"].phenotype == "Poor Metabolizer"
    assert twin.pgx["CYP2C19"].method == "fhir-genotype"


def test_write_back_is_readable_and_idempotent(sk_rt: Runtime, sekmet: _sekmet.Sekmet) -> None:
    result = sync_patient_job(sk_rt, sekmet.base, "twin-pgx-1", {"kind": "rest", "base_url": sekmet.base})
    assert result["status"] == "created", result
    twin = TwinStore(sk_rt.redis).get(sekmet.base, "twin-pgx-1")
    assert twin is not None
    assert twin.pgx["CYP2C19"].diplotypes == ["*2/*2"] and twin.pgx["CYP2C19"].method == "vcf"
    assert next(r for r in twin.risk if r.model == "pce").status == "ok"

    first = write_back_patient(sk_rt, sekmet.base, "twin-pgx-1")
    assert first["created"] == first["entries"]  # genotypes, implications, risk resources and the Provenance
    client = client_for(sk_rt.settings, sekmet.base)

    def count(rtype: str, **params: str) -> list[dict[str, Any]]:
        # sekmet ignores `subject` on RiskAssessment (it says so in an OperationOutcome entry): filter here too.
        found = client.search(rtype, {"subject": "Patient/twin-pgx-1", **params})
        return [r for r in found if r.get("subject", {}).get("reference") == "Patient/twin-pgx-1"]

    genotypes = count("Observation", code="84413-4")
    assert sorted(g["valueCodeableConcept"]["text"] for g in genotypes) == ["CYP2C19 *2/*2", "CYP2C9 *1/*2"]
    cyp2c19 = next(g for g in genotypes if g["valueCodeableConcept"]["text"] == "CYP2C19 *2/*2")
    implications = [o for o in count("Observation") if o["code"]["coding"][0]["code"] == "therapeutic-implication"]
    # CPIC's clopidogrel guideline has one recommendation per indication (ACS/PCI, non-ACS non-PCI, neurovascular).
    assert len(implications) == 3
    for implication in implications:
        drug = next(c for c in implication["component"] if c["code"]["coding"][0]["code"] == "51963-7")
        assert drug["valueCodeableConcept"]["coding"][0]["display"] == "clopidogrel"
        assert implication["derivedFrom"][0]["reference"] == f"Observation/{cyp2c19['id']}"
    risks = count("RiskAssessment")
    assert "pce-2013" in {r["method"]["coding"][0]["code"] for r in risks}
    pce = next(r for r in risks if r["method"]["coding"][0]["code"] == "pce-2013")
    assert pce["prediction"][0]["probabilityDecimal"] == round(
        next(r for r in twin.risk if r.model == "pce").value or 0, 6
    )
    assert {b["reference"] for b in pce["basis"]} >= {"Observation/twin-pgx-chol", "Observation/twin-pgx-sbp"}
    provenance = list(client.search("Provenance", {}))
    assert len(provenance) == 1
    assert len(provenance[0]["target"]) == first["entries"] - 1

    # A retried task writes nothing new: conditional creates match, updates replace, Provenance is a PUT.
    totals = (len(count("Observation")), len(count("RiskAssessment")), len(list(client.search("Provenance", {}))))
    second = write_back_patient(sk_rt, sekmet.base, "twin-pgx-1")
    assert second["created"] == 0
    assert second["entries"] == first["entries"]
    assert (
        len(count("Observation")),
        len(count("RiskAssessment")),
        len(list(client.search("Provenance", {}))),
    ) == totals


def test_population_export_and_incremental_lastupdated(sk_rt: Runtime, sekmet: _sekmet.Sekmet) -> None:
    class Recorder:
        sent: list[tuple[str, dict[str, Any]]] = []

        def send_task(self, name: str, kwargs: dict[str, Any]) -> None:
            self.sent.append((name, kwargs))

    app = Recorder()
    exported = export_population(sk_rt, app, sekmet.base, since=None, types=None, group=None)
    client = client_for(sk_rt.settings, sekmet.base)
    patients = len(list(client.search("Patient", {})))
    assert exported["patients"] == patients == 23  # 20 Synthea, the two IG patients, ours
    assert exported["skipped"] == 0
    for _, kwargs in app.sent:
        sync_chunk_job(sk_rt, kwargs["server"], kwargs["source"])
    summary = sk_rt.runs.summary(str(exported["run"]))
    assert summary.complete and summary.statuses == {"created": 23}
    assert TwinStore(sk_rt.redis).count() == 23

    # No watermark yet: every Patient, and the watermark becomes the newest Patient's lastUpdated.
    first = incremental_sync(sk_rt, app, sekmet.base)
    assert first[sekmet.base]["patients"] == 23  # type: ignore[index]
    # The resources loaded after the last Patient (ours) are newer than that watermark.
    app.sent.clear()
    second = incremental_sync(sk_rt, app, sekmet.base)
    assert [k["patient_id"] for _, k in app.sent] == ["twin-pgx-1"]
    assert second[sekmet.base]["watermark"] > first[sekmet.base]["watermark"]  # type: ignore[index,operator]
    app.sent.clear()
    third = incremental_sync(sk_rt, app, sekmet.base)
    assert third[sekmet.base]["patients"] == 0  # type: ignore[index]
    changed = client.read("Observation", "twin-pgx-bmi")
    changed["valueQuantity"]["value"] = 30.1
    client.request(
        "PUT",
        "Observation/twin-pgx-bmi",
        content=orjson.dumps(changed),
        headers={"Content-Type": "application/fhir+json"},
    )
    fourth = incremental_sync(sk_rt, app, sekmet.base)
    assert fourth[sekmet.base]["patients"] == 1  # type: ignore[index]
    assert [k["patient_id"] for _, k in app.sent] == ["twin-pgx-1"]
