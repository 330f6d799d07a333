"""The REST source, population export and incremental sync against the fault-injecting FHIR server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.errors import TransientUpstreamError
from services.common.fhir import FhirClient
from services.common.settings import Settings
from services.common.store import TwinStore
from services.ingest import PatientNotFound, Runtime, build_twin, make_runtime, scan_directory
from services.ingest._clients import reset_clients
from services.ingest._incremental import incremental_sync
from services.ingest._jobs import sync_patient_job
from services.ingest._rest import attachment_fetcher, fetch_patient
from services.ingest._watermarks import get_watermark
from services.ingest.errors import AttachmentFetchError
from tests.fhir_server.server import FhirTestServer, running
from tests.ingest._worker import run_ingest, running_worker, worker_env

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


@pytest.fixture
def server(synthea: Path, genomics_examples: Path) -> Iterator[FhirTestServer]:
    scan = scan_directory(synthea)
    with running(page_size=20) as srv:
        for patient_id in [*sorted(p for p in scan if p != ALBERTO)[:3], ALBERTO]:
            srv.store.load(scan[patient_id], last_updated="2024-01-01T00:00:00.000Z")
        srv.store.load(scan_directory(genomics_examples)["CGPatientExample01"], last_updated="2024-01-01T00:00:00.000Z")
        yield srv
    reset_clients()


class Recorder:
    """Collects send_task calls (for the functions that only enqueue)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, kwargs: dict[str, Any]) -> None:
        self.sent.append((name, kwargs))


def test_fetch_patient_reads_everything_ingest_needs(server: FhirTestServer, synthea: Path) -> None:
    with FhirClient(server.base) as client:
        resources = fetch_patient(client, ALBERTO)
        with pytest.raises(PatientNotFound):
            fetch_patient(client, "nobody")
    # The server has no DocumentReference/DiagnosticReport search errors; everything clinical comes back.
    local = scan_directory(synthea)[ALBERTO]
    wanted = {"Patient", "Observation", "Condition", "MedicationRequest", "DiagnosticReport"}
    assert sorted(r["id"] for r in resources) == sorted(r["id"] for r in local if r["resourceType"] in wanted)
    twin = build_twin(server.base, ALBERTO, resources).twin
    local_twin = build_twin(server.base, ALBERTO, local).twin

    def values(t: Any) -> dict[str, tuple[float, str, str]]:
        return {k: (v.value, v.unit, v.source.id) for k, v in t.labs.items()}

    assert values(twin) == values(local_twin)
    assert len(twin.labs) == 7
    assert [m.rxnorm for m in twin.medications] == [m.rxnorm for m in local_twin.medications]
    assert {v.source.version for v in twin.labs.values()} == {"1"}


def test_sync_patient_over_rest(rt: Runtime, server: FhirTestServer) -> None:
    server.faults.rate_limited = 1
    server.faults.retry_after = "0"
    result = sync_patient_job(rt, server.base + "/", "CGPatientExample01", {"kind": "rest", "base_url": server.base})
    assert result["status"] == "created"
    twin = TwinStore(rt.redis).get(server.base, "CGPatientExample01")
    assert twin is not None
    assert twin.genotype_inputs[1].gene == "CYP2C19"
    assert twin.genotype_inputs[1].source.version == "1"  # the server's versionId travels with the value
    again = sync_patient_job(rt, server.base, "CGPatientExample01", {"kind": "rest", "base_url": server.base})
    assert again["status"] == "unchanged"
    missing = sync_patient_job(rt, server.base, "nobody", {"kind": "rest", "base_url": server.base, "run": "r1"})
    assert missing == {
        "status": "failed",
        "version": 0,
        "read": 0,
        "skipped": [],
        "reason": "the FHIR server has no such patient",
    }
    assert rt.runs.summary("r1").failed == 1


def test_transient_failures_propagate_for_the_task_to_retry(ingest_redis_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=ingest_redis_url, ingest_work_dir=tmp_path, fhir_timeout_seconds=2)
    rt = make_runtime(settings)
    with pytest.raises(TransientUpstreamError):
        sync_patient_job(rt, "http://127.0.0.1:9/fhir", "p", {"kind": "rest", "base_url": "http://127.0.0.1:9/fhir"})
    reset_clients()


def test_attachment_fetcher_allow_list(server: FhirTestServer) -> None:
    with FhirClient(server.base) as client:
        fetch = attachment_fetcher(client, ["vcf.example.org"])
        assert b'"CGPatientExample01"' in fetch("Patient/CGPatientExample01")
        with pytest.raises(AttachmentFetchError):
            fetch("https://evil.example.com/sample.vcf")
        with pytest.raises(AttachmentFetchError):
            fetch("http://vcf.example.org/sample.vcf")  # allow-listed hosts only over https


def test_incremental_sync_uses_server_times(rt: Runtime, server: FhirTestServer) -> None:
    rt_settings = rt.settings.model_copy(update={"sync_overlap_minutes": 10})
    rt = Runtime(rt_settings, rt.redis, rt.store, rt.runs, rt.work_dir)
    app = Recorder()
    first = incremental_sync(rt, app, server.base)
    assert first[server.base]["patients"] == 5  # type: ignore[index]
    assert get_watermark(rt.redis, server.base) == "2024-01-01T00:00:00.000Z"
    obs = server.store.search("Observation", {"patient": ALBERTO})[0]
    server.store.put(obs, last_updated="2024-01-01T05:00:00.000Z")
    second = incremental_sync(rt, app, server.base)
    # The overlap window (10 minutes before the watermark) still covers the initial load.
    assert second[server.base]["patients"] == 5  # type: ignore[index]
    assert get_watermark(rt.redis, server.base) == "2024-01-01T05:00:00.000Z"
    app.sent.clear()
    condition = server.store.search("Condition", {"patient": "CGPatientExample01"}) or server.store.search(
        "Observation", {"patient": "CGPatientExample01"}
    )
    server.store.put(condition[0], last_updated="2024-01-01T06:00:00.000Z")
    third = incremental_sync(rt, app, server.base)
    assert third[server.base]["patients"] == 2  # type: ignore[index]
    assert sorted(kwargs["patient_id"] for _, kwargs in app.sent) == sorted([ALBERTO, "CGPatientExample01"])
    assert app.sent[0][1]["source"]["kind"] == "rest"
    assert get_watermark(rt.redis, server.base) == "2024-01-01T06:00:00.000Z"
    queries = [r.query for r in server.requests("/Observation")]
    assert queries[-1]["_lastUpdated"] == "gt2024-01-01T04:50:00Z"


@pytest.mark.integration
def test_population_export_with_a_real_worker_through_the_cli(
    ingest_settings: Settings, server: FhirTestServer, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    server.faults.export_in_progress_polls = 1
    server.faults.retry_after = "0"
    server.faults.truncate = ("Observation", 3)
    server.faults.export_errors = ["Device export failed"]
    env = worker_env(ingest_settings.redis_url, tmp_path / "work", TWINRX_INGEST_CHUNK_PATIENTS="2")
    with running_worker(env, tmp_path / "worker.log", concurrency=2):
        done = run_ingest(env, "export", "--server", server.base, "--timeout", "120", timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    # Five patients hashed into at most ceil(5 / 2) = 3 chunks; the next _since is the export's transactionTime.
    (job,) = server.exports.values()
    assert re.fullmatch(
        rf"run \w+: 5 patients in [123] tasks; next --since {re.escape(job.transaction_time)}", lines[0]
    )
    assert "patients 5/5" in lines[1]
    assert "twins updated 5" in lines[1]
    assert "skipped 2" in lines[1]  # the truncated line and the export's error file
    assert any("invalid JSON line (truncated?)" in line for line in lines)
    assert any("Device export failed" in line for line in lines)
    kickoff = server.requests("$export")[0]
    assert kickoff.path == "/fhir/Patient/$export"
    store = TwinStore(make_runtime(ingest_settings).redis)
    assert store.count() == 5
    twin = store.get(server.base, "CGPatientExample01")
    assert twin is not None and [g.gene for g in twin.genotype_inputs][:2] == ["APOE", "CYP2C19"]


def test_system_and_group_level_exports(rt: Runtime, server: FhirTestServer) -> None:
    from services.ingest._population import export_population

    server.faults.export_in_progress_polls = 0
    app = Recorder()
    system = export_population(rt, app, server.base, since=None, types=["Patient"], group=None, system=True)
    assert server.requests("$export")[-1].path == "/fhir/$export"
    assert system["patients"] == 5
    server.store.put({"resourceType": "Group", "id": "cohort", "type": "person", "actual": True,
                      "member": [{"entity": {"reference": f"Patient/{ALBERTO}"}}]})  # fmt: skip
    grouped = export_population(rt, app, server.base, since=None, types=None, group="cohort")
    assert server.requests("$export")[-1].path == "/fhir/Group/cohort/$export"
    assert grouped["patients"] == 1
    assert grouped["read"] == 42  # Alberto's Patient, Observations, Conditions, MedicationRequests, DiagnosticReport
    assert {name for name, _ in app.sent} == {"twinrx.ingest.sync_chunk"}
