"""Deletions reach the twin: REST history and Bulk ``deleted`` files, over real HTTP with real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.twin import Twin
from services.ingest import Runtime, scan_directory
from services.ingest._clients import reset_clients
from services.ingest._incremental import TYPES, incremental_sync
from services.ingest._jobs import sync_chunk_job, sync_patient_job
from services.ingest._owners import owners_key, owners_of
from services.ingest._population import export_population
from services.ingest._watermarks import get_watermark
from tests.fhir_server.server import running
from tests.ingest._history_server import HistoryServer, running_history
from tests.ingest._worker import running_worker, worker_env

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"
GENOMICS = "CGPatientExample01"
LOADED = "2024-01-01T00:00:00.000Z"


class Recorder:
    """Collects send_task calls; :meth:`run` then does each sync_patient's work in this process."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, kwargs: dict[str, Any]) -> None:
        self.sent.append((name, kwargs))

    def run(self, rt: Runtime) -> dict[str, str]:
        statuses: dict[str, str] = {}
        for name, kwargs in self.sent:
            if name == "twinrx.ingest.sync_patient":
                result = sync_patient_job(rt, kwargs["server"], kwargs["patient_id"], kwargs["source"])
                statuses[kwargs["patient_id"]] = str(result["status"])
            elif name == "twinrx.ingest.sync_chunk":
                sync_chunk_job(rt, kwargs["server"], kwargs["source"])
        self.sent.clear()
        return statuses


@pytest.fixture
def server(synthea: Path, genomics_examples: Path) -> Iterator[HistoryServer]:
    scan = scan_directory(synthea)
    with running_history(page_size=20) as srv:
        for patient_id in [*sorted(p for p in scan if p != ALBERTO)[:2], ALBERTO]:
            srv.store.load(scan[patient_id], last_updated=LOADED)
        srv.store.load(scan_directory(genomics_examples)[GENOMICS], last_updated=LOADED)
        srv.faults.export_in_progress_polls = 0
        yield srv
    reset_clients()


def _twin(rt: Runtime, server: HistoryServer, patient_id: str) -> Twin:
    twin = rt.store.get(server.base, patient_id)
    assert twin is not None
    return twin


def _cyp2c19_genotype(twin: Twin) -> str:
    """Id of the Observation the twin's CYP2C19 diplotype came from."""
    (found,) = [g for g in twin.genotype_inputs if g.gene == "CYP2C19" and g.diplotype]
    assert found.diplotype == "*2/*2"
    return found.source.id


def _versions(rt: Runtime, server: HistoryServer, patients: list[str]) -> dict[str, int | None]:
    twins = rt.store.get_many(server.base, patients)
    return {p: (t.version if t else None) for p, t in twins.items()}


def _without_overlap(rt: Runtime) -> Runtime:
    """A runtime whose incremental sync re-reads nothing before the watermark (exact patient counts)."""
    return Runtime(rt.settings.model_copy(update={"sync_overlap_minutes": 0}), rt.redis, rt.store, rt.runs, rt.work_dir)


def _initial_sync(rt: Runtime, server: HistoryServer, app: Recorder) -> list[str]:
    first = incremental_sync(rt, app, server.base)
    assert first[server.base]["patients"] == 4  # type: ignore[index]
    statuses = app.run(rt)
    assert set(statuses.values()) == {"created"}
    return sorted(statuses)


def test_deleted_genotype_and_patient_leave_the_twins(rt: Runtime, server: HistoryServer) -> None:
    app = Recorder()
    patients = _initial_sync(rt, server, app)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    # The REST loader recorded every resource's patient as the twins were built.
    assert owners_of(rt.redis, server.base, [f"Observation/{genotype}"]) == {f"Observation/{genotype}": GENOMICS}

    server.delete("Observation", genotype, when="2024-01-01T07:25:00.000Z")
    server.delete("Patient", ALBERTO, when="2024-01-01T07:30:00.000Z")
    report = incremental_sync(rt, app, server.base)[server.base]
    assert report == {
        "run": report["run"],  # type: ignore[index]
        "patients": 3,  # the overlap window re-reads the initial load too; the deleted Patient is not re-read
        "watermark": "2024-01-01T07:30:00.000Z",  # the server's time of the newest deletion
        "deletions": 2,
        "resynced_for_deletions": 1,
        "twins_removed": 1,
        "deletions_unresolved": 0,
        "history_unsupported": [],
    }
    assert app.run(rt) == {p: "updated" if p == GENOMICS else "unchanged" for p in patients if p != ALBERTO}
    assert rt.store.get(server.base, ALBERTO) is None
    twin = _twin(rt, server, GENOMICS)
    assert genotype not in {g.source.id for g in twin.genotype_inputs}
    assert not [g for g in twin.genotype_inputs if g.gene == "CYP2C19" and g.diplotype]
    assert [g.gene for g in twin.genotype_inputs if g.diplotype] != []  # the other genes' genotypes stay

    # A second run re-reads both deletions (10 minutes of overlap before 07:30) and changes nothing.
    before = _versions(rt, server, patients)
    again = incremental_sync(rt, app, server.base)[server.base]
    assert (again["deletions"], again["patients"], again["twins_removed"]) == (2, 1, 0)  # type: ignore[index]
    assert app.run(rt) == {GENOMICS: "unchanged"}
    assert _versions(rt, server, patients) == before
    assert before[ALBERTO] is None


def test_owner_of_a_resource_the_index_never_saw_comes_from_instance_history(
    rt: Runtime, server: HistoryServer
) -> None:
    rt = _without_overlap(rt)
    app = Recorder()
    _initial_sync(rt, server, app)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    rt.redis.delete(owners_key(server.base))  # e.g. twins built before the index existed
    server.delete("Observation", genotype, when="2024-01-01T07:00:00.000Z")
    report = incremental_sync(rt, app, server.base)[server.base]
    assert (report["resynced_for_deletions"], report["deletions_unresolved"]) == (1, 0)  # type: ignore[index]
    assert app.run(rt) == {GENOMICS: "updated"}
    assert genotype not in {g.source.id for g in _twin(rt, server, GENOMICS).genotype_inputs}
    assert owners_of(rt.redis, server.base, [f"Observation/{genotype}"]) == {f"Observation/{genotype}": GENOMICS}
    assert len(server.requests(f"/Observation/{genotype}/_history")) == 1


def test_a_patient_restored_after_its_deletion_keeps_its_twin(rt: Runtime, server: HistoryServer) -> None:
    rt = _without_overlap(rt)
    app = Recorder()
    _initial_sync(rt, server, app)
    patient = server.store.get("Patient", ALBERTO)
    assert patient is not None
    server.delete("Patient", ALBERTO, when="2024-01-01T07:00:00.000Z")
    server.store.put(patient, last_updated="2024-01-01T07:10:00.000Z")
    report = incremental_sync(rt, app, server.base)[server.base]
    assert (report["deletions"], report["twins_removed"], report["patients"]) == (1, 0, 1)  # type: ignore[index]
    # Re-read in full; the same content (this test server restarts versionId after a delete): unchanged.
    assert app.run(rt) == {ALBERTO: "unchanged"}
    assert _twin(rt, server, ALBERTO).demographics.gender == "male"


def test_entered_in_error_genotype_is_dropped_on_the_next_sync(rt: Runtime, server: HistoryServer) -> None:
    rt = _without_overlap(rt)
    app = Recorder()
    _initial_sync(rt, server, app)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    wrong = server.store.get("Observation", genotype)
    assert wrong is not None
    server.store.put({**wrong, "status": "entered-in-error"}, last_updated="2024-01-01T08:00:00.000Z")
    report = incremental_sync(rt, app, server.base)[server.base]
    assert (report["patients"], report["deletions"]) == (1, 0)  # type: ignore[index]
    assert app.run(rt) == {GENOMICS: "updated"}
    assert genotype not in {g.source.id for g in _twin(rt, server, GENOMICS).genotype_inputs}


def test_a_result_moved_to_another_patient_leaves_the_first_twin(rt: Runtime, server: HistoryServer) -> None:
    rt = _without_overlap(rt)
    app = Recorder()
    _initial_sync(rt, server, app)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    misfiled = server.store.get("Observation", genotype)
    assert misfiled is not None
    moved = {**misfiled, "subject": {"reference": f"Patient/{ALBERTO}"}}
    server.store.put(moved, last_updated="2024-01-01T08:00:00.000Z")
    incremental_sync(rt, app, server.base)
    assert app.run(rt) == {GENOMICS: "updated", ALBERTO: "updated"}
    assert genotype not in {g.source.id for g in _twin(rt, server, GENOMICS).genotype_inputs}
    assert [g.source.id for g in _twin(rt, server, ALBERTO).genotype_inputs] == [genotype]


def test_history_older_than_asked_for_is_ignored(rt: Runtime, server: HistoryServer) -> None:
    rt = _without_overlap(rt)
    app = Recorder()
    _initial_sync(rt, server, app)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    server.delete("Observation", genotype, when="2024-01-01T07:00:00.000Z")
    assert incremental_sync(rt, app, server.base)[server.base]["deletions"] == 1  # type: ignore[index]
    app.run(rt)
    condition = server.store.search("Condition", {"patient": ALBERTO})[0]
    server.store.put(condition, last_updated="2024-01-01T08:00:00.000Z")
    moved_on = incremental_sync(rt, app, server.base)[server.base]
    assert moved_on["watermark"] == "2024-01-01T08:00:00.000Z"  # type: ignore[index]
    server.ignore_since = True  # the server now lists the 07:00 deletion although 08:00 was asked for
    report = incremental_sync(rt, app, server.base)[server.base]
    assert (report["deletions"], report["patients"]) == (0, 0)  # type: ignore[index]
    assert report["watermark"] == "2024-01-01T08:00:00.000Z"  # type: ignore[index]


def test_bulk_export_deleted_files_resync_and_remove(rt: Runtime, server: HistoryServer) -> None:
    app = Recorder()
    full = export_population(rt, app, server.base, since=None, types=None, group=None)
    assert (full["patients"], full["deletions"]) == (4, 0)
    app.run(rt)
    genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
    # The export's resources went into the owner index while spooling.
    assert owners_of(rt.redis, server.base, [f"Observation/{genotype}"]) == {f"Observation/{genotype}": GENOMICS}
    since = str(full["transaction_time"])
    server.delete("Observation", genotype)
    server.delete("Patient", ALBERTO)
    delta = export_population(rt, app, server.base, since=since, types=None, group=None)
    assert (delta["deletions"], delta["resynced_for_deletions"], delta["twins_removed"]) == (2, 1, 1)
    assert [(n, k["patient_id"]) for n, k in app.sent] == [("twinrx.ingest.sync_patient", GENOMICS)]
    assert app.run(rt) == {GENOMICS: "updated"}
    assert rt.store.get(server.base, ALBERTO) is None
    assert genotype not in {g.source.id for g in _twin(rt, server, GENOMICS).genotype_inputs}
    again = export_population(rt, app, server.base, since=since, types=None, group=None)
    assert again["twins_removed"] == 0
    assert app.run(rt) == {GENOMICS: "unchanged"}


def test_a_since_export_re_reads_changed_patients_in_full(rt: Runtime, server: HistoryServer) -> None:
    app = Recorder()
    full = export_population(rt, app, server.base, since=None, types=None, group=None)
    app.run(rt)
    before = _twin(rt, server, ALBERTO)
    condition = server.store.search("Condition", {"patient": ALBERTO})[0]
    server.store.put({**condition, "clinicalStatus": {"coding": [{"code": "resolved"}]}})
    delta = export_population(rt, app, server.base, since=str(full["transaction_time"]), types=None, group=None)
    assert (delta["patients"], delta["tasks"], delta["read"]) == (1, 1, 1)
    assert [(n, k["patient_id"], k["source"]["kind"]) for n, k in app.sent] == [
        ("twinrx.ingest.sync_patient", ALBERTO, "rest")
    ]
    assert app.run(rt) == {ALBERTO: "updated"}
    after = _twin(rt, server, ALBERTO)
    # Built from everything the server holds, not from the one changed Condition the export carried.
    assert (after.labs, after.demographics) == (before.labs, before.demographics)
    assert len(after.conditions) == len(before.conditions) - 1
    assert rt.runs.summary(str(delta["run"])).statuses == {"updated": 1}


def test_a_server_without_history_is_reported_and_search_still_works(rt: Runtime, synthea: Path) -> None:
    scan = scan_directory(synthea)
    with running() as srv:
        srv.store.load(scan[ALBERTO], last_updated=LOADED)
        app = Recorder()
        incremental_sync(rt, app, srv.base)
        assert app.run(rt) == {ALBERTO: "created"}
        report = incremental_sync(rt, app, srv.base)[srv.base]
    reset_clients()
    assert report["history_unsupported"] == list(TYPES)  # type: ignore[index]
    assert (report["deletions"], report["patients"]) == (0, 1)  # type: ignore[index]
    assert get_watermark(rt.redis, srv.base) == LOADED


@pytest.mark.integration
def test_incremental_deletions_through_a_real_worker(
    rt: Runtime, ingest_settings: Settings, server: HistoryServer, tmp_path: Path
) -> None:
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "worker-work")
    with running_worker(env, tmp_path / "worker.log"):
        first = incremental_sync(rt, app, server.base)[server.base]
        assert rt.runs.wait(str(first["run"]), timeout=120).statuses == {"created": 4}  # type: ignore[index]
        genotype = _cyp2c19_genotype(_twin(rt, server, GENOMICS))
        server.delete("Observation", genotype, when="2024-01-01T07:25:00.000Z")
        server.delete("Patient", ALBERTO, when="2024-01-01T07:30:00.000Z")
        second = incremental_sync(rt, app, server.base)[server.base]
        summary = rt.runs.wait(str(second["run"]), timeout=120)  # type: ignore[index]
    assert summary.complete and summary.statuses == {"updated": 1, "unchanged": 2}
    assert rt.store.get(server.base, ALBERTO) is None
    assert genotype not in {g.source.id for g in _twin(rt, server, GENOMICS).genotype_inputs}
