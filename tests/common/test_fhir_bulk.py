"""Bulk Data $export against the test server: kick-off headers, polling, manifest, streaming, errors, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from services.common.fhir import BulkExport, BulkExportError, FhirClient, SmartBackendAuth, split_lines
from services.ingest import scan_directory
from tests.fhir_server.keys import pem, public_jwk, rsa_key
from tests.fhir_server.server import FhirTestServer, running


@pytest.fixture
def server(shared_data: Path) -> Iterator[FhirTestServer]:
    scan = scan_directory(shared_data / "fhir" / "synthea")
    with running() as srv:
        for patient_id in sorted(scan)[:3]:
            srv.store.load(scan[patient_id], last_updated="2024-01-01T00:00:00.000Z")
        yield srv


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def bulk(server: FhirTestServer, waits: list[float]) -> Iterator[BulkExport]:
    with FhirClient(server.base, sleep=waits.append) as client:
        yield BulkExport(client)


def test_system_export_end_to_end(bulk: BulkExport, server: FhirTestServer, waits: list[float]) -> None:
    server.faults.export_in_progress_polls = 2
    server.faults.retry_after = "4"
    status_url, manifest = bulk.run(types=["Patient", "Observation"])
    kickoff = server.requests("$export")[0]
    assert kickoff.headers["accept"] == "application/fhir+json"
    assert kickoff.headers["prefer"] == "respond-async"
    assert kickoff.query == {"_type": "Patient,Observation"}
    assert status_url.startswith(f"{server.base}/_export/")
    assert len(waits) == 2 and all(w == 4.0 for w in waits)  # Retry-After honoured while in progress
    assert manifest.transaction_time == server.exports[status_url.rsplit("/", 1)[1]].transaction_time
    assert manifest.requires_access_token is True
    assert [(f.type, f.count) for f in manifest.output] == [("Observation", 116), ("Patient", 3)]
    lines = list(bulk.lines(manifest, manifest.output[1]))
    assert sorted(orjson.loads(line)["resourceType"] for line in lines) == ["Patient"] * 3
    assert manifest.error == []


def test_since_and_group(bulk: BulkExport, server: FhirTestServer) -> None:
    server.faults.export_in_progress_polls = 0
    newer = {"resourceType": "Patient", "id": "late", "gender": "female"}
    server.store.put(newer, last_updated="2025-06-01T00:00:00.000Z")
    _, manifest = bulk.run(since="2024-06-01T00:00:00Z")
    assert [(f.type, f.count) for f in manifest.output] == [("Patient", 1)]
    server.store.put(
        {
            "resourceType": "Group",
            "id": "g1",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": "Patient/late"}}],
        }
    )
    _, grouped = bulk.run(level="group", group_id="g1", types=["Patient"])
    assert [(f.type, f.count) for f in grouped.output] == [("Patient", 1)]
    assert server.requests("$export")[-1].path.endswith("/Group/g1/$export")


def test_error_files_are_read_and_truncated_lines_surface(bulk: BulkExport, server: FhirTestServer) -> None:
    server.faults.export_in_progress_polls = 0
    server.faults.export_errors = ["Observation 17 could not be exported", "Device type not supported"]
    server.faults.truncate = ("Patient", 2)
    _, manifest = bulk.run(types=["Patient"])
    assert bulk.error_messages(manifest) == ["Observation 17 could not be exported", "Device type not supported"]
    lines = list(bulk.lines(manifest, manifest.output[0]))
    assert len(lines) == 3
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(lines[1])


def test_failed_export_is_reported_and_cancel_sends_delete(bulk: BulkExport, server: FhirTestServer) -> None:
    server.faults.export_in_progress_polls = 5
    status_url = bulk.kickoff(level="patient")
    bulk.cancel(status_url)
    assert server.requests("/_export/")[-1].method == "DELETE"
    with pytest.raises(BulkExportError, match="export failed: GET .* answered HTTP 404: no such export"):
        bulk.poll(status_url)


def test_kickoff_without_async_headers_is_rejected_by_the_server(server: FhirTestServer) -> None:
    with FhirClient(server.base) as client:
        response = client.http.get(f"{server.base}/$export")
    assert response.status_code == 400


def test_401_during_export_download_reauthenticates(server: FhirTestServer, waits: list[float]) -> None:
    key = rsa_key()
    server.smart.client_id = "bulk-client"
    server.smart.jwks = [public_jwk(key, "k1")]
    server.faults.export_in_progress_polls = 0
    auth = SmartBackendAuth(
        base_url=server.base, client_id="bulk-client", private_key_pem=pem(key), key_id="k1", scope="system/*.rs"
    )
    with FhirClient(server.base, auth=auth, sleep=waits.append) as client:
        bulk = BulkExport(client)
        _, manifest = bulk.run(types=["Patient"])
        server.smart.revoke_all()  # the token expires between the manifest and the download
        lines = list(bulk.lines(manifest, manifest.output[0]))
    assert len(lines) == 3
    assert server.smart.issued == 2
    assert [r.status for r in server.requests("/file/Patient")] == [401, 200]


def test_split_lines_streams_across_chunk_boundaries() -> None:
    chunks = iter([b'{"a":', b'1}\n{"b"', b":2}\n\n", b'{"c":3}'])
    assert list(split_lines(chunks)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
