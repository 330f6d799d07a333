"""Loose VCFs in a folder split by the workers (parallel split) are linked like a small folder's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.ingest import Runtime, enqueue_directory
from services.ingest._jobs import split_part_job, sync_chunk_job
from tests.ingest._worker import running_worker, worker_env
from tests.ingest.test_local_vcf import write_patient, write_vcf

ORPHAN = "VCF orphan.vcf not linked: no sample or file name equals a patient id of the folder"


class Recorder:
    """Collects send_task calls; the tests run the work in this process, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, kwargs: dict[str, Any]) -> None:
        self.sent.append((name, kwargs))

    def take(self, name: str) -> list[dict[str, Any]]:
        taken = [k for n, k in self.sent if n == name]
        self.sent = [(n, k) for n, k in self.sent if n != name]
        return taken


def _folder(root: Path) -> Path:
    folder = root / "data"
    folder.mkdir()
    for patient_id in ("p1", "p2", "p3", "p4"):
        write_patient(folder, patient_id)
    write_vcf(folder / "p1.vcf", {"S1": "*2"})  # linked by file name
    nested = folder / "genomes"
    nested.mkdir()
    write_vcf(nested / "cohort.vcf", {"p2": "*2", "p3": "*1"})  # linked by sample names
    write_vcf(folder / "orphan.vcf", {"nobody": "*2"})
    return folder


def _ingest(rt: Runtime, folder: Path, server: str, *, parallel_split: bool) -> str:
    """Enqueue a folder and do every task it leads to; returns the run id."""
    app = Recorder()
    run = enqueue_directory(app, rt, folder, server=server, parallel_split=parallel_split, patients_per_chunk=2)
    for kwargs in app.take("twinrx.ingest.split_part"):
        split_part_job(rt, app, kwargs["server"], kwargs["source"])
    for kwargs in app.take("twinrx.ingest.sync_chunk"):
        sync_chunk_job(rt, kwargs["server"], kwargs["source"])
    assert app.sent == []
    return run.run_id


def test_split_run_links_loose_vcfs_like_a_small_folder(rt: Runtime, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    split = rt.runs.summary(_ingest(rt, folder, "local:split", parallel_split=True))
    serial = rt.runs.summary(_ingest(rt, folder, "local:serial", parallel_split=False))
    assert split.complete and split.statuses == {"created": 4}
    assert split.skip_reasons == serial.skip_reasons == {ORPHAN: 1}
    assert split.read == serial.read
    for patient_id in ("p1", "p2", "p3", "p4"):
        split_twin, serial_twin = rt.store.get("local:split", patient_id), rt.store.get("local:serial", patient_id)
        assert split_twin is not None and serial_twin is not None
        assert split_twin.input_fingerprint == serial_twin.input_fingerprint
        assert [g.source.reference for g in split_twin.genotype_inputs] == [
            g.source.reference for g in serial_twin.genotype_inputs
        ]
    p1 = rt.store.get("local:split", "p1")
    p3 = rt.store.get("local:split", "p3")
    p4 = rt.store.get("local:split", "p4")
    assert p1 is not None and p3 is not None and p4 is not None
    assert (p1.pgx["CYP2C19"].diplotypes, p1.pgx["CYP2C19"].phenotype) == (["*2/*2"], "Poor Metabolizer")
    assert p1.genotype_inputs[0].source.reference == "VCF/p1.vcf"
    assert p3.genotype_inputs[0].source.reference == "VCF/cohort.vcf"
    assert (p3.pgx["CYP2C19"].diplotypes, p3.pgx["CYP2C19"].phenotype) == (["*38/*38"], "Normal Metabolizer")
    assert p4.genotype_inputs == []

    # The same folder again: every twin unchanged, the orphan still reported once.
    again = rt.runs.summary(_ingest(rt, folder, "local:split", parallel_split=True))
    assert (again.statuses, again.skip_reasons) == ({"unchanged": 4}, {ORPHAN: 1})


@pytest.mark.integration
def test_split_run_through_real_workers_reads_loose_vcfs(
    rt: Runtime, ingest_settings: Settings, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "worker-work")
    with running_worker(env, tmp_path / "worker.log", concurrency=2):
        run = enqueue_directory(app, rt, folder, server="local:big", parallel_split=True, patients_per_chunk=2)
        assert (run.tasks, run.skipped) == (4, [])  # one split part per Bundle file; VCFs are the workers' job
        summary = rt.runs.wait(run.run_id, timeout=120)
    assert summary.complete, summary
    assert (summary.statuses, summary.skip_reasons) == ({"created": 4}, {ORPHAN: 1})
    p2 = rt.store.get("local:big", "p2")
    assert p2 is not None
    assert (p2.pgx["CYP2C19"].diplotypes, p2.pgx["CYP2C19"].phenotype) == (["*2/*2"], "Poor Metabolizer")
    assert p2.genotype_inputs[0].source.reference == "VCF/cohort.vcf"
