"""Celery tasks of ingest: thin edges over :mod:`services.ingest._jobs`.

Names and kwargs are a contract (the CDS service sends ``twinrx.ingest.sync_patient`` by name)::

    twinrx.ingest.sync_patient(server, patient_id, source)      one patient from a dir / rest / bulk source
    twinrx.ingest.sync_chunk(server, source)                    every patient of a spooled chunk
    twinrx.ingest.split_part(server, source)                    split one part of a large local folder
    twinrx.ingest.export_population(server, since=None, types=None, group=None)
    twinrx.ingest.incremental_sync(server=None)                 beat: `_lastUpdated` since the watermark
    twinrx.ingest.write_back(server, patient_id)                genotype/implication/risk resources to the EHR

Settings come from ``create_celery`` (acks late, reject on worker lost, prefetch 1, time limits).
Transient errors retry with capped, jittered exponential backoff; when retries run out the failure is
recorded in the run so nobody waits forever.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar, cast

from celery import Task
from celery.signals import worker_init

from services.common.celery_app import create_celery
from services.common.settings import get_settings

from . import _engines, _jobs
from ._heartbeat import WorkerHeartbeat
from ._runtime import runtime
from .names import EXPORT_POPULATION, INCREMENTAL_SYNC, SPLIT_PART, SYNC_CHUNK, SYNC_PATIENT, WRITE_BACK

_settings = get_settings()
# A broker URL is required to run a worker (the CLI checks); importing this module must not need one.
app = create_celery(_settings, broker_url=_settings.redis_url or "memory://")
# A task whose worker died (SIGKILL, OOM) is redelivered once the visibility timeout passes; sweep for such
# messages every 10 s instead of kombu's default of every 10th sweep (about 100 s).
app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
app.steps["worker"].add(WorkerHeartbeat)
app.conf.beat_scheduler = "services.ingest._heartbeat:HeartbeatScheduler"
app.conf.beat_max_loop_interval = _settings.heartbeat_interval_seconds  # beat wakes (and beats) this often
app.conf.beat_schedule = {
    "twinrx-incremental-sync": {
        "task": INCREMENTAL_SYNC,
        "schedule": float(_settings.sync_interval_minutes * 60),
        "kwargs": {},
    }
}


F = TypeVar("F", bound=Callable[..., Any])


def _task(name: str) -> Callable[[F], F]:
    """``app.task`` with the common options, typed for mypy (Celery ships no annotations)."""
    return cast("Callable[[F], F]", app.task(name=name, bind=True, max_retries=_settings.task_max_retries))


def _warm(**_: Any) -> None:
    """Import the compute engines (pgx, risk) in the worker's main process, before the pool forks."""
    _engines.engines_tag()


worker_init.connect(_warm, weak=False)


def backoff(retries: int, *, cap: float = 300.0) -> float:
    """Capped exponential backoff with full jitter between half and all of the step."""
    step: float = min(cap, 2.0 ** (retries + 1))
    return step * random.uniform(0.5, 1.0)


def _retry(task: Task, exc: Exception, *, source: object = None, patient_id: str | None = None) -> Exception:
    if task.request.retries >= task.max_retries:
        _jobs.record_failure(runtime(), source, patient_id, f"gave up after retries: {exc.__class__.__name__}")
        return exc
    return task.retry(exc=exc, countdown=backoff(task.request.retries))  # type: ignore[no-any-return]


@_task(SYNC_PATIENT)
def sync_patient(self: Task, server: str, patient_id: str, source: dict[str, Any]) -> dict[str, object]:
    """Sync one patient's twin."""
    try:
        result = _jobs.sync_patient_job(runtime(), server, patient_id, source)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc, source=source, patient_id=patient_id) from exc
    if _jobs.wants_write_back(runtime(), source, result):
        app.send_task(WRITE_BACK, kwargs={"server": server, "patient_id": patient_id})
    return result


@_task(SYNC_CHUNK)
def sync_chunk(self: Task, server: str, source: dict[str, Any]) -> dict[str, object]:
    """Sync every patient of a spooled chunk."""
    try:
        return _jobs.sync_chunk_job(runtime(), server, source)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc, source=source) from exc


@_task(SPLIT_PART)
def split_part(self: Task, server: str, source: dict[str, Any]) -> dict[str, object]:
    """Split one part of a large local folder into chunks; the last part fans out the sync_chunk tasks."""
    try:
        return _jobs.split_part_job(runtime(), app, server, source)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc, source=source) from exc


@_task(EXPORT_POPULATION)
def export_population(
    self: Task, server: str, since: str | None = None, types: list[str] | None = None, group: str | None = None
) -> dict[str, object]:
    """Bulk-export a population and fan out chunks of syncs."""
    try:
        return _jobs.export_population_job(runtime(), app, server, since=since, types=types, group=group)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc) from exc


@_task(INCREMENTAL_SYNC)
def incremental_sync(self: Task, server: str | None = None) -> dict[str, object]:
    """Sync patients changed since the server's watermark (beat)."""
    try:
        return _jobs.incremental_job(runtime(), app, server)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc) from exc


@_task(WRITE_BACK)
def write_back(self: Task, server: str, patient_id: str) -> dict[str, object]:
    """Write a twin's genotype, implication and risk resources back to the EHR."""
    try:
        return _jobs.write_back_job(runtime(), server, patient_id)
    except _jobs.RETRYABLE as exc:
        raise _retry(self, exc) from exc
