"""Tasks with a real Celery worker subprocess (``twinrx worker``) and real Redis (database 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.store import TwinStore
from services.ingest import SYNC_PATIENT, Runtime, build_twin, enqueue_directory, enqueue_patients, scan_directory
from tests.ingest._worker import running_worker, worker_env

pytestmark = pytest.mark.integration

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


def test_directory_ingest_with_a_real_worker(
    rt: Runtime, ingest_settings: Settings, synthea: Path, genomics_examples: Path, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "worker-work")
    with running_worker(env, tmp_path / "worker.log", concurrency=2):
        run = enqueue_directory(app, rt, synthea, server="local:demo", patients_per_chunk=5)
        assert run.patients == 20
        assert run.tasks >= 2
        summary = rt.runs.wait(run.run_id, timeout=120)
        assert summary.complete, summary
        assert summary.statuses == {"created": 20}
        assert summary.read == 1931  # every resource of the folder, including those a twin does not use
        assert summary.skipped == 0

        store = TwinStore(rt.redis)
        assert store.count() == 20
        stored = store.get("local:demo", ALBERTO)
        assert stored is not None and stored.version == 1
        expected = build_twin("local:demo", ALBERTO, scan_directory(synthea)[ALBERTO]).twin
        assert stored.labs == expected.labs
        assert stored.input_fingerprint == expected.input_fingerprint
        assert stored.risk == expected.risk

        # Idempotent: the same folder again changes nothing.
        again = enqueue_directory(app, rt, synthea, server="local:demo")
        summary = rt.runs.wait(again.run_id, timeout=120)
        assert summary.statuses == {"unchanged": 20}
        stored_again = store.get("local:demo", ALBERTO)
        assert stored_again is not None and stored_again.version == 1

        # Per-patient syncs by task name, as the CDS service sends them.
        ids = ["CGPatientExample01", "ExamplePatient", "nobody"]
        source = {"kind": "dir", "path": str(genomics_examples)}
        run = enqueue_patients(app, rt.runs, "local:ig/", ids, source)
        summary = rt.runs.wait(run.run_id, timeout=120)
        assert summary.complete
        assert summary.statuses == {"created": 2, "failed": 1}
        twin = store.get("local:ig", "CGPatientExample01")
        assert twin is not None
        assert [g.gene for g in twin.genotype_inputs] == ["APOE", "CYP2C19", "CYP2C9", "CYP2D6", "HLA-B", "VKORC1"]


def test_sync_patient_kwargs_contract(rt: Runtime, ingest_settings: Settings, synthea: Path, tmp_path: Path) -> None:
    """``send_task`` with exactly the documented kwargs and no run: the twin appears in the store."""
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "w")
    with running_worker(env, tmp_path / "worker.log"):
        app.send_task(
            SYNC_PATIENT,
            kwargs={"server": "local:demo", "patient_id": ALBERTO, "source": {"kind": "dir", "path": str(synthea)}},
        )
        run = enqueue_patients(app, rt.runs, "local:demo", [ALBERTO], {"kind": "dir", "path": str(synthea)})
        summary = rt.runs.wait(run.run_id, timeout=120)
    # Both tasks ran on one worker process in order; the second found the twin already current.
    assert summary.statuses == {"unchanged": 1}
    twin = TwinStore(rt.redis).get("local:demo", ALBERTO)
    assert twin is not None and twin.version == 1


def test_parallel_split_by_the_workers_builds_the_same_twins(
    rt: Runtime, ingest_settings: Settings, bulk10: Path, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "worker-work")
    store = TwinStore(rt.redis)
    with running_worker(env, tmp_path / "worker.log", concurrency=2):
        # 2.8 MB in parts of 100 kB: lines are cut between parts by byte range, each read exactly once.
        split = enqueue_directory(app, rt, bulk10, server="local:split", parallel_split=True, split_part_bytes=100_000)
        assert split.tasks == 35  # Condition 6 parts, Encounter 20, Immunization 2, seven small files 1 each
        summary = rt.runs.wait(split.run_id, timeout=180)
        assert summary.complete and summary.statuses == {"created": 13}
        assert summary.read == 2144
        serial = enqueue_directory(app, rt, bulk10, server="local:serial", parallel_split=False)
        assert rt.runs.wait(serial.run_id, timeout=180).statuses == {"created": 13}
    for patient_id in scan_directory(bulk10):
        split_twin, serial_twin = store.get("local:split", patient_id), store.get("local:serial", patient_id)
        assert split_twin is not None and serial_twin is not None
        assert split_twin.input_fingerprint == serial_twin.input_fingerprint
        assert split_twin.conditions == serial_twin.conditions
