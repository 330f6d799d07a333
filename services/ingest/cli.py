"""CLI edge of services.ingest: ``twinrx ingest dir|patient|export|status``, ``twinrx worker``, ``twinrx beat``.

Each command calls library functions and prints a progress bar and a summary (resources read,
skipped with reasons, twins updated, failed with reasons); errors are TwinRxErrors mapped to one line
by ``services.cli``. Before anything is enqueued the ``--server`` URL and ``--since`` are checked, the
server is asked for ``/metadata`` once, and a worker must answer a ping (see ``_preflight``).

Exit codes of a run that was followed: 0 every patient synced; 1 at least one patient failed (the
reasons are printed); 75 the run did not finish within ``--timeout``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.common.errors import ConfigError, InputFileError, NotFound, ValidationFailure
from services.common.fhir.ids import is_fhir_id
from services.common.logging import configure_logging
from services.common.settings import get_settings

from ._runs import RunSummary

ingest_app = typer.Typer(no_args_is_help=True)

TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for the workers.")]
WaitOpt = Annotated[bool, typer.Option(help="Wait for the workers and print a summary.")]


def _require_broker() -> str:
    """The broker URL (logging goes to stderr from here on, so stdout carries only the summary)."""
    settings = get_settings()
    if settings.redis_url is None:
        raise ConfigError("set TWINRX_REDIS_URL to the Redis used as broker and twin store")
    configure_logging(settings.log_level, json=settings.log_json)
    return settings.redis_url


def _follow(run_id: str, expected: int, timeout: float) -> RunSummary:
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ._runtime import runtime

    runs = runtime().runs
    deadline = time.monotonic() + timeout
    columns = (TextColumn("syncing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        bar = progress.add_task("patients", total=expected)
        while True:
            # the one-round-trip count while waiting; the full summary parses every outcome, so it is read once
            done, total, complete = runs.progress(run_id)
            progress.update(bar, completed=done, total=total or expected or None)
            if complete or time.monotonic() > deadline:
                return runs.summary(run_id)
            time.sleep(0.25)


FAILED_EXIT = 1  # the run finished but at least one patient failed


def _print_summary(summary: RunSummary, *, waited: bool = True) -> None:
    typer.echo(
        f"run {summary.run_id}: patients {summary.done}/{summary.expected}, resources read {summary.read}, "
        f"twins updated {summary.updated}, unchanged {summary.statuses.get('unchanged', 0)}, "
        f"failed {summary.failed}, skipped {summary.skipped}"
    )
    for reason, count in sorted(summary.skip_reasons.items(), key=lambda item: -item[1])[:20]:
        typer.echo(f"  skipped {count:>6}  {reason}")
    for reason, count in sorted(summary.fail_reasons.items(), key=lambda item: -item[1])[:20]:
        typer.echo(f"  failed  {count:>6}  {reason}")
    if not summary.complete:
        # the workers go on with the run after the CLI stops waiting; status shows how far they got
        why = (
            f"did not finish within --timeout; the workers go on (see `twinrx ingest status {summary.run_id}`)"
            if waited
            else "is not finished yet; the workers are still on it"
        )
        typer.echo(f"twinrx: error: run {summary.run_id} {why}", err=True)
        raise typer.Exit(75)
    if summary.failed:
        raise typer.Exit(FAILED_EXIT)


@ingest_app.command("dir")
def ingest_dir(
    path: Annotated[Path, typer.Argument(help="Folder of FHIR Bundles, resources or Bulk NDJSON files.")],
    server: Annotated[str | None, typer.Option(help="Twin-store server key (default local:<folder>).")] = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 3600.0,
) -> None:
    """Ingest a local folder: one task per chunk of patients.

    Files that cannot be read at all are named on stderr; when nothing could be read the command fails.
    """
    if not path.exists():  # before the broker: a wrong path is the first thing to fix
        raise InputFileError("no such file or folder", location=str(path))
    _require_broker()
    from ._enqueue import enqueue_directory
    from ._local import unreadable_files
    from ._preflight import require_worker
    from ._runtime import runtime
    from .tasks import app

    if wait:
        require_worker(app)
    run = enqueue_directory(app, runtime(), path, server=server)
    unreadable = unreadable_files(path, run.skipped)
    for location, reason in unreadable:
        typer.echo(f"twinrx: warning: {location}: {reason}", err=True)
    if not run.patients and not run.tasks:  # not a parallel split, and no patient found
        if unreadable:
            location, reason = unreadable[0]
            more = f"; {len(unreadable) - 1} more unreadable" if len(unreadable) > 1 else ""
            raise InputFileError(f"nothing could be read: malformed input ({reason}){more}", location=location)
        raise InputFileError("no patients found (expected FHIR Bundles, resources or Bulk NDJSON)", location=str(path))
    if run.patients:
        typer.echo(f"run {run.run_id}: {run.patients} patients in {run.tasks} tasks for {run.server}")
    else:  # a large folder: the workers split it first
        typer.echo(f"run {run.run_id}: {run.tasks} split tasks for {run.server}")
        for skipped in run.skipped:
            typer.echo(f"  skipped {skipped.reference}: {skipped.reason}")
    if wait:
        _print_summary(_follow(run.run_id, run.patients, timeout))


@ingest_app.command("patient")
def ingest_patient(
    patient_id: Annotated[str, typer.Argument(help="Patient id on the FHIR server.")],
    server: Annotated[str, typer.Option(help="FHIR base URL.")],
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 600.0,
) -> None:
    """Sync one patient from a FHIR server (exit 1 when it failed, with the reason)."""
    from ._preflight import check_server_url, probe_fhir_server, require_worker

    if not is_fhir_id(patient_id):  # it becomes a URL path: "../x" or "a/b" would read something else
        raise ValidationFailure(
            f"PATIENT_ID must be a FHIR id (1-64 characters of A-Z a-z 0-9 - .), got {patient_id!r}"
        )
    check_server_url(server)
    probe_fhir_server(server)  # before logging is configured: its one request needs no log line
    _require_broker()
    from ._enqueue import enqueue_patients
    from ._runtime import runtime
    from .tasks import app

    if wait:
        require_worker(app)
    run = enqueue_patients(app, runtime().runs, server, [patient_id], {"kind": "rest", "base_url": server})
    if wait:
        _print_summary(_follow(run.run_id, run.patients, timeout))


@ingest_app.command("export")
def ingest_export(
    server: Annotated[str, typer.Option(help="FHIR base URL.")],
    since: Annotated[
        str | None, typer.Option(help="FHIR instant with timezone (or a date): only resources changed after it.")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Group id (Group/[id]/$export).")] = None,
    system: Annotated[bool, typer.Option("--system", help="System-level $export instead of Patient/$export.")] = False,
    types: Annotated[str | None, typer.Option("--type", help="Comma-separated resource types.")] = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 3600.0,
) -> None:
    """Bulk-export a population and sync every patient in it (exit 1 when any patient failed)."""
    from ._preflight import check_server_url, check_since, probe_fhir_server, require_worker

    check_server_url(server)
    if since is not None:
        check_since(since)
    probe_fhir_server(server)  # before logging is configured: its one request needs no log line
    _require_broker()
    from ._population import export_population
    from ._runtime import runtime
    from .tasks import app

    if wait:
        require_worker(app)

    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    result = export_population(runtime(), app, server, since=since, types=type_list, group=group, system=system)
    typer.echo(
        f"run {result['run']}: {result['patients']} patients in {result['tasks']} tasks; "
        f"next --since {result['transaction_time']}"
    )
    if wait:
        _print_summary(_follow(str(result["run"]), int(str(result["patients"])), timeout))


@ingest_app.command("status")
def ingest_status(run_id: Annotated[str, typer.Argument(help="Run id printed by an ingest command.")]) -> None:
    """Print a run's summary (exit 1 when a patient failed, 75 while it is unfinished)."""
    _require_broker()
    from ._runtime import runtime

    runs = runtime().runs
    if not runs.exists(run_id):
        raise NotFound(f"unknown run {run_id!r}")
    _print_summary(runs.summary(run_id), waited=False)


def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    pool: Annotated[str, typer.Option(help="Celery pool (prefork, solo, threads).")] = "prefork",
) -> None:
    """Run a Celery worker for the ingest tasks."""
    _require_broker()
    from services.common.celery_app import QUEUE

    from .tasks import app

    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel.upper()}",
            f"--pool={pool}",
            f"--queues={QUEUE}",
            "--without-gossip",
            "--without-mingle",
            "--hostname=twinrx-ingest@%h",
        ]
    )


def beat(
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    schedule: Annotated[Path | None, typer.Option(help="Beat schedule file.")] = None,
) -> None:
    """Run Celery beat (the incremental sync schedule)."""
    _require_broker()
    from .tasks import app

    argv = ["beat", f"--loglevel={loglevel.upper()}"]
    if schedule is not None:
        argv.append(f"--schedule={schedule}")
    app.start(argv)
