"""``twinrx ingest dir`` and ``twinrx worker`` as a user runs them (subprocesses, real worker, real Redis)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.common.settings import Settings
from tests.ingest._worker import TWINRX, run_ingest, running_worker, worker_env
from tests.ingest.conftest import DATA

pytestmark = pytest.mark.integration


def test_ingest_dir_prints_a_summary_with_skip_reasons(ingest_settings: Settings, tmp_path: Path) -> None:
    assert ingest_settings.redis_url is not None
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "malformed.json", folder)
    shutil.copy(DATA / "legacy-pgx.json", folder)
    (folder / "broken.ndjson").write_bytes(b'{"resourceType":"Patient","id":"x1"}\n{"resourceType":"Obs\n')
    env = worker_env(ingest_settings.redis_url, tmp_path / "work")
    with running_worker(env, tmp_path / "worker.log"):
        done = run_ingest(env, "dir", str(folder), "--server", "local:cli", "--timeout", "120", timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines[0].endswith(": 3 patients in 1 tasks for local:cli")
    # 17 + 3 + 1 resources of the three patients, and 2 records the scan could not use (no id, a cut line).
    assert "patients 3/3, resources read 23, twins updated 3, unchanged 0, failed 0, skipped 8" in lines[1]
    reasons = "\n".join(lines[2:])
    assert "valueQuantity.value is not a number" in reasons
    assert "invalid JSON line (truncated?)" in reasons
    assert done.stderr == "" or '"patient_id"' not in done.stderr


def test_worker_without_a_broker_is_a_one_line_error(tmp_path: Path) -> None:
    env = worker_env("", tmp_path)
    env.pop("TWINRX_REDIS_URL")
    done = subprocess.run([str(TWINRX), "worker"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 78
    assert done.stderr.strip() == "twinrx: error: set TWINRX_REDIS_URL to the Redis used as broker and twin store"


def test_ingest_patient_from_a_fhir_server(ingest_settings: Settings, synthea: Path, tmp_path: Path) -> None:
    from services.common.store import TwinStore
    from services.ingest import make_runtime, scan_directory
    from tests.fhir_server.server import running

    assert ingest_settings.redis_url is not None
    patient = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"
    env = worker_env(ingest_settings.redis_url, tmp_path / "work")
    with running() as server, running_worker(env, tmp_path / "worker.log"):
        server.store.load(scan_directory(synthea)[patient])
        server.faults.rate_limited = 1
        server.faults.retry_after = "0"
        done = run_ingest(env, "patient", patient, "--server", server.base, "--timeout", "120", timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    # Only what a twin needs is searched: Patient 1, Observation 35, Condition 3, MedicationRequest 2, DiagReport 1.
    assert "patients 1/1, resources read 42, twins updated 1" in done.stdout
    twin = TwinStore(make_runtime(ingest_settings).redis).get(server.base, patient)
    assert twin is not None and twin.smoking == "former"


def test_ingest_dir_of_only_a_truncated_bundle_names_it_and_fails(ingest_settings: Settings, tmp_path: Path) -> None:
    assert ingest_settings.redis_url is not None
    folder = tmp_path / "in"
    folder.mkdir()
    bundle = folder / "bundle.json"
    bundle.write_text('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType"')
    env = worker_env(ingest_settings.redis_url, tmp_path / "work")
    done = run_ingest(env, "dir", str(folder), "--no-wait")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"twinrx: warning: {bundle}: unreadable JSON at line 1 column 88: unexpected end of data\n"
        f"twinrx: error: {bundle}: nothing could be read: malformed input "
        "(unreadable JSON at line 1 column 88: unexpected end of data)\n"
    )


def test_ingest_dir_of_no_fhir_files_fails(ingest_settings: Settings, tmp_path: Path) -> None:
    assert ingest_settings.redis_url is not None
    folder = tmp_path / "empty"
    folder.mkdir()
    done = run_ingest(worker_env(ingest_settings.redis_url, tmp_path / "work"), "dir", str(folder), "--no-wait")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"twinrx: error: {folder}: no patients found (expected FHIR Bundles, resources or Bulk NDJSON)\n"
    )


def test_ingest_dir_names_an_unreadable_file_next_to_readable_ones(ingest_settings: Settings, tmp_path: Path) -> None:
    assert ingest_settings.redis_url is not None
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "legacy-pgx.json", folder)
    (folder / "cut.json").write_text('{"resourceType": "Bundle", "ent')
    done = run_ingest(worker_env(ingest_settings.redis_url, tmp_path / "work"), "dir", str(folder), "--no-wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith("patients in 1 tasks for local:in")
    assert (
        f"twinrx: warning: {folder / 'cut.json'}: unreadable JSON at line 1 column 32: unexpected end of data\n"
        in done.stderr
    )


def test_ingest_status_of_an_unknown_run_is_not_found(ingest_settings: Settings, tmp_path: Path) -> None:
    assert ingest_settings.redis_url is not None
    done = run_ingest(worker_env(ingest_settings.redis_url, tmp_path / "work"), "status", "nosuchrun")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == "twinrx: error: unknown run 'nosuchrun'\n"


def test_ingest_dir_checks_the_path_before_the_broker(tmp_path: Path) -> None:
    env = worker_env("", tmp_path)
    env.pop("TWINRX_REDIS_URL")
    missing = tmp_path / "nonexistent"
    done = run_ingest(env, "dir", str(missing))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"twinrx: error: {missing}: no such file or folder\n"
