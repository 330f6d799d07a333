"""Ingest: pull patients from EHR FHIR servers or local folders into twins, keep them current, write back.

Public API (everything else is private)::

    build_twin(server, patient_id, resources, *, work_dir=None, previous=None, fetch=None) -> BuildResult
    scan_directory(path) -> ScanResult        mapping patient_id -> resources of a local folder
    unreadable_files(folder, skipped) -> [(path, reason)]   the files a scan could not read at all
    enqueue_directory(app, runtime, path, *, server=None, parallel_split=None) -> EnqueuedRun
        chunks of patients as twinrx.ingest.sync_chunk tasks (large folders split by the workers)
    enqueue_patients(app, runs, server, patient_ids, source) -> EnqueuedRun
        one twinrx.ingest.sync_patient per patient; source {"kind": "dir" | "rest" | "bulk", ...}
    RunLog(redis).summary(run_id) / wait_for_run(runs, run, *, timeout) -> RunSummary
    sync_resources(store, server, patient_id, resources, ...) -> SyncOutcome

A local folder may also hold loose ``*.vcf`` / ``*.vcf.gz`` / ``*.bcf`` files (recursively). Each is linked
to the folder's patients by sample name (every sample named like a patient id), else by file name
(``<patient-id>.vcf`` with one sample), and becomes a ``GenotypeInput(kind="vcf")`` with source
``VCF/<file name>`` (date = the file's mtime) that ``build_twin`` profiles like an attached VCF; a VCF that
links to no patient is reported as skipped by file name, never guessed (:mod:`._local_vcf`).

The FHIR client is :mod:`services.common.fhir`. Local folders are stored under the server key
``local:<folder name>`` unless a server is given (the demo uses ``local:demo``).

Task names are in :mod:`services.ingest.names`; the Celery app is ``services.ingest.tasks.app``.
"""

from __future__ import annotations

from ._build import BuildResult, build_twin, input_fingerprint
from ._enqueue import EnqueuedRun, enqueue_directory, enqueue_patients, local_server, wait_for_run
from ._local import ScanResult, scan_directory, unreadable_files
from ._runs import RunLog, RunSummary
from ._runtime import Runtime, make_runtime, runtime
from ._sync import SyncOutcome, normalise_server, sync_resources
from .errors import AttachmentFetchError, MalformedResource, PatientNotFound, SourceError
from .names import EXPORT_POPULATION, INCREMENTAL_SYNC, SYNC_CHUNK, SYNC_PATIENT, WRITE_BACK

__all__ = [
    "EXPORT_POPULATION",
    "INCREMENTAL_SYNC",
    "SYNC_CHUNK",
    "SYNC_PATIENT",
    "WRITE_BACK",
    "AttachmentFetchError",
    "BuildResult",
    "EnqueuedRun",
    "MalformedResource",
    "PatientNotFound",
    "RunLog",
    "RunSummary",
    "Runtime",
    "ScanResult",
    "SourceError",
    "SyncOutcome",
    "build_twin",
    "enqueue_directory",
    "enqueue_patients",
    "input_fingerprint",
    "local_server",
    "make_runtime",
    "normalise_server",
    "runtime",
    "scan_directory",
    "sync_resources",
    "unreadable_files",
    "wait_for_run",
]
