"""The worker's credentials go only to the FHIR servers the deployment configured; patient ids that are
not FHIR ids never become a request (they would climb out of the base URL or read another path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.fhir import FhirClient, InvalidFhirId
from services.common.settings import Settings
from services.ingest import make_runtime
from services.ingest._clients import ServerNotConfigured, client_for, reset_clients
from services.ingest._jobs import sync_patient_job
from tests.fhir_server.server import FhirTestServer, running
from tests.ingest._worker import run_ingest, worker_env

SECRET = "WORKER-STATIC-SECRET"
NOT_CONFIGURED = (
    "this FHIR server is not configured (TWINRX_FHIR_BASE_URL or TWINRX_INGEST_SERVERS), "
    "so the worker's credentials are not sent to it"
)


@pytest.fixture
def server() -> Iterator[FhirTestServer]:
    with running() as srv:
        srv.store.load([{"resourceType": "Patient", "id": "victim-1"}], last_updated="2024-01-01T00:00:00.000Z")
        yield srv
    reset_clients()


def _settings(ingest_redis_url: str, tmp_path: Path, **values: object) -> Settings:
    return Settings(redis_url=ingest_redis_url, ingest_work_dir=tmp_path, **values)  # type: ignore[arg-type]


def _sync(settings: Settings, base: str) -> dict[str, object]:
    return sync_patient_job(make_runtime(settings), base, "victim-1", {"kind": "rest", "base_url": base})


def test_a_task_for_an_unconfigured_server_is_refused_without_a_request(
    server: FhirTestServer, ingest_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(ingest_redis_url, tmp_path, fhir_bearer_token=SECRET, fhir_base_url="https://ehr.example/fhir")
    result = _sync(settings, server.base)
    assert result["status"] == "failed"
    assert result["reason"] == NOT_CONFIGURED
    assert server.log == []  # not even an anonymous request


def test_the_configured_server_gets_the_token(server: FhirTestServer, ingest_redis_url: str, tmp_path: Path) -> None:
    # scheme/host case and a trailing slash do not make the configured server a different one
    configured = server.base.replace("http://", "HTTP://") + "/"
    settings = _settings(ingest_redis_url, tmp_path, fhir_bearer_token=SECRET, ingest_servers=[configured])
    result = _sync(settings, server.base)
    assert result["status"] == "created"
    (read,) = server.requests("/Patient/victim-1")
    assert read.headers["authorization"] == f"Bearer {SECRET}"


def test_without_credentials_any_server_gets_an_anonymous_client(
    server: FhirTestServer, ingest_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(ingest_redis_url, tmp_path)
    result = _sync(settings, server.base)
    assert result["status"] == "created"
    assert "authorization" not in server.requests("/Patient/victim-1")[0].headers


def test_client_for_refuses_an_unconfigured_server_when_smart_is_set(tmp_path: Path) -> None:
    settings = Settings(smart_client_id="c", smart_key_id="k", fhir_base_url="https://ehr.example/fhir")
    with pytest.raises(ServerNotConfigured) as refused:
        client_for(settings, "http://127.0.0.1:18099/fhir")
    assert refused.value.message == NOT_CONFIGURED
    assert refused.value.exit_code == 78


@pytest.mark.parametrize("bad", ["../../admin", "a/b", "victim#x", "", "x" * 65, "a b", "a?b=c", "%2e%2e"])
def test_a_non_fhir_id_never_becomes_a_request(server: FhirTestServer, bad: str) -> None:
    with FhirClient(server.base) as client:
        with pytest.raises(InvalidFhirId) as refused:
            client.read("Patient", bad)
        assert refused.value.message == "id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)"
        with pytest.raises(InvalidFhirId):
            client.read(bad, "victim-1")
        with pytest.raises(InvalidFhirId):
            list(client.search(bad or "../x", {"patient": "victim-1"}))
    assert server.log == []


def test_a_fhir_id_is_read(server: FhirTestServer) -> None:
    with FhirClient(server.base) as client:
        assert client.read("Patient", "victim-1")["id"] == "victim-1"
    assert [r.path for r in server.log] == ["/fhir/Patient/victim-1"]


def test_a_sync_of_a_non_fhir_id_fails_and_stores_nothing(
    server: FhirTestServer, ingest_redis_url: str, tmp_path: Path
) -> None:
    rt = make_runtime(_settings(ingest_redis_url, tmp_path))
    result = sync_patient_job(rt, server.base, "victim#x", {"kind": "rest", "base_url": server.base})
    assert result["status"] == "failed"
    assert result["reason"] == "id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)"
    assert server.log == []
    assert rt.store.get(server.base, "victim#x") is None


@pytest.mark.parametrize("bad", ["../../etc", "", "a/b"])
def test_cli_ingest_patient_refuses_a_non_fhir_id(ingest_redis_url: str, tmp_path: Path, bad: str) -> None:
    done = run_ingest(worker_env(ingest_redis_url, tmp_path), "patient", bad, "--server", "http://127.0.0.1:9/fhir")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines() or done.stdout.strip().splitlines()
    assert lines == [f"twinrx: error: PATIENT_ID must be a FHIR id (1-64 characters of A-Z a-z 0-9 - .), got {bad!r}"]
