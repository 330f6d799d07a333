"""A worker killed with SIGKILL mid-task loses nothing: the task is redelivered and the twin ends identical.

The task is held mid-flight by the fault-injecting FHIR server (its Condition search blocks), then the
pool process, or the whole worker, is SIGKILLed. Real Redis (database 2), real worker subprocesses.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.store import TwinStore
from services.ingest import Runtime, build_twin, enqueue_patients, scan_directory
from tests.fhir_server.server import FhirTestServer, running
from tests.ingest._worker import Worker, running_worker, worker_env

pytestmark = pytest.mark.integration

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


@pytest.fixture
def server(synthea: Path) -> Iterator[FhirTestServer]:
    with running(page_size=20) as srv:
        srv.store.load(scan_directory(synthea)[ALBERTO], last_updated="2024-01-01T00:00:00.000Z")
        srv.faults.block_path = "/Condition"
        yield srv
        srv.release.set()


def _expected(server: FhirTestServer) -> str:
    resources = [
        r
        for r in server.store.all()
        if r["resourceType"] in ("Patient", "Observation", "Condition", "MedicationRequest", "DiagnosticReport")
    ]
    return build_twin(server.base, ALBERTO, resources).twin.input_fingerprint


def _unblock(server: FhirTestServer) -> None:
    server.faults.block_path = None
    server.release.set()


def test_sigkill_of_the_pool_process(
    rt: Runtime, ingest_settings: Settings, server: FhirTestServer, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "work", TWINRX_FHIR_TIMEOUT_SECONDS="60")
    with running_worker(env, tmp_path / "worker.log", concurrency=1) as worker:
        run = enqueue_patients(app, rt.runs, server.base, [ALBERTO], {"kind": "rest", "base_url": server.base})
        assert server.blocked.wait(timeout=60), "the task never reached the FHIR server"
        (child,) = worker.children()
        os.kill(child, signal.SIGKILL)
        _unblock(server)
        summary = rt.runs.wait(run.run_id, timeout=120)
    assert summary.statuses == {"created": 1}
    twin = TwinStore(rt.redis).get(server.base, ALBERTO)
    assert twin is not None and twin.version == 1
    assert twin.input_fingerprint == _expected(server)
    assert len(server.requests(f"/Patient/{ALBERTO}")) == 2  # the task ran again after the kill
    assert "WorkerLostError" in (tmp_path / "worker.log").read_text()


def test_sigkill_of_the_whole_worker(
    rt: Runtime, ingest_settings: Settings, server: FhirTestServer, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    # A short hard time limit makes the broker's visibility timeout (twice the limit) short too.
    limits = {"TWINRX_TASK_SOFT_TIME_LIMIT": "5", "TWINRX_TASK_TIME_LIMIT": "6", "TWINRX_FHIR_TIMEOUT_SECONDS": "4"}
    settings = ingest_settings.model_copy(update={"task_soft_time_limit": 5, "task_time_limit": 6})
    app = create_celery(settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "work", **limits)
    first = Worker(env, tmp_path / "first.log")
    try:
        first.wait_ready()
        run = enqueue_patients(app, rt.runs, server.base, [ALBERTO], {"kind": "rest", "base_url": server.base})
        assert server.blocked.wait(timeout=60), "the task never reached the FHIR server"
        first.kill()
    finally:
        first.stop()
    _unblock(server)
    assert rt.runs.summary(run.run_id).done == 0  # nothing was recorded by the dead worker
    with running_worker(env, tmp_path / "second.log"):
        summary = rt.runs.wait(run.run_id, timeout=120)
    assert summary.statuses == {"created": 1}
    twin = TwinStore(rt.redis).get(server.base, ALBERTO)
    assert twin is not None and twin.version == 1
    assert twin.input_fingerprint == _expected(server)
