"""The main job end to end: cohort (or --data) -> Redis -> Celery worker -> twins -> CDS Hooks -> report.

Every part is real: a Redis server (``TWINRX_REDIS_URL`` or an embedded one on a private unix
socket), a ``twinrx worker`` subprocess, a ``twinrx serve`` subprocess on 127.0.0.1, and HTTP calls.
Children run in their own process groups and are stopped in ``finally`` blocks (an ExitStack), so a
Ctrl-C, a SIGTERM or an error leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from services.common.errors import ConfigError
from services.common.redis_conn import connect
from services.common.settings import Settings

from ._auth import DemoAuth
from ._hooks import DEMO_DRUGS, HookClient, HookResult
from ._ingest import DEMO_SERVER, IngestOutcome, clear_twins, ingest, stored_twins
from ._inputs import scan_inputs
from ._processes import ManagedProcess, free_port, terminate_as_interrupt, twinrx_command, wait_until
from ._redis import demo_redis
from ._report import write_report
from ._table import cards_table, print_summary
from .cohort import DEFAULT_PATIENTS, DEFAULT_SEED, Cohort, generate_cohort
from .errors import ServiceStartError


@dataclass
class DemoOptions:
    """What to run the demo on and where to write the report."""

    data: Path | None = None
    patients: int = DEFAULT_PATIENTS
    seed: int = DEFAULT_SEED
    out: Path = Path("twinrx-report")
    redis_url: str | None = None
    ingest_timeout: float = 600.0
    start_timeout: float = 60.0
    worker_concurrency: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    hook_threads: int = 4
    server: str = DEMO_SERVER
    show_patients: int = 8
    console: Console = field(default_factory=lambda: Console(width=None if sys.stdout.isatty() else 150))


@dataclass
class DemoResult:
    """What a run produced (used by the CLI and the end-to-end tests)."""

    patient_ids: list[str]
    twins: list[str]
    ingest: IngestOutcome
    results: list[HookResult]
    figures: dict[str, object]
    report: dict[str, Path]
    cohort: Cohort | None = None

    def cards_for(
        self, patient_id: str, drug: str | None = None, hook: str = "order-select"
    ) -> list[dict[str, object]]:
        """Cards one patient got for one hook (and drug)."""
        cards: list[dict[str, object]] = []
        for result in self.results:
            if result.patient_id != patient_id or result.hook != hook:
                continue
            if drug is None or (result.drug is not None and result.drug.name == drug):
                cards.extend(result.cards)
        return cards


def _child_env(redis_url: str, base_url: str, auth: DemoAuth, server: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINRX_")}
    for key in ("TWINRX_LOG_LEVEL", "TWINRX_TASK_SOFT_TIME_LIMIT", "TWINRX_TASK_TIME_LIMIT"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(
        {
            "TWINRX_ENVIRONMENT": "development",
            "TWINRX_REDIS_URL": redis_url,
            "TWINRX_LOG_JSON": "true",
            "TWINRX_PUBLIC_BASE_URL": base_url,
            "TWINRX_CDS_DEFAULT_SERVER": server,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(auth.server_env())
    return env


def run_demo(options: DemoOptions) -> DemoResult:
    """Run the whole path once; raises a :class:`~services.common.errors.TwinRxError` on failure."""
    console = options.console
    settings = _settings()
    started = time.monotonic()
    out = options.out.resolve()
    cohort: Cohort | None = None
    if options.data is not None:
        source_dir = options.data.resolve()
        notes: list[str] = []
        patient_ids = scan_inputs(source_dir, notes)
        labels: dict[str, str] = {}
        console.print(f"[bold]inputs[/] {len(patient_ids)} patients found in {source_dir}")
        for note in notes:
            console.print(f"[yellow]skipped[/] {note}")
    else:
        source_dir = out / "cohort"
        cohort = generate_cohort(source_dir, options.patients, options.seed)
        patient_ids = cohort.patient_ids
        labels = {p.id: p.showcase.label for p in cohort.patients if p.showcase}
        console.print(f"[bold]cohort[/] {len(patient_ids)} synthetic patients (seed {options.seed}) in {source_dir}")
    with contextlib.ExitStack() as stack, terminate_as_interrupt():
        redis_url, redis_kind = stack.enter_context(demo_redis(options.redis_url or settings.redis_url))
        client = connect(redis_url)
        stack.callback(client.close)
        clear_twins(client, patient_ids, options.server)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        auth = DemoAuth.create(out / "auth")
        env = _child_env(redis_url, base_url, auth, options.server)
        logs = out / "logs"
        worker = ManagedProcess(
            "worker",
            [*twinrx_command(), "worker", "--concurrency", str(options.worker_concurrency)],
            env,
            logs / "worker.log",
        )
        api = ManagedProcess(
            "api", [*twinrx_command(), "serve", "--host", "127.0.0.1", "--port", str(port)], env, logs / "api.log"
        )
        for proc in (worker, api):
            stack.callback(proc.stop)  # registered first: an interrupt during start still stops it
            proc.start()
        hooks = HookClient(base_url, auth.headers)
        stack.callback(hooks.close)

        outcome = ingest(
            settings,
            client,
            redis_url,
            source_dir,
            patient_ids,
            timeout=options.ingest_timeout,
            check_alive=worker.check_alive,
            console=console,
            server=options.server,
        )
        twins = stored_twins(client, patient_ids, options.server)
        console.print(
            f"[bold]twins[/] {len(twins)} of {len(patient_ids)} stored in {outcome.seconds:.1f} s"
            + (f" [yellow]({outcome.failed} failed: see logs/worker.log)[/]" if outcome.failed else "")
        )

        def api_ready() -> bool:
            api.check_alive()
            return hooks.ready()

        if not wait_until(api_ready, timeout=options.start_timeout):
            raise ServiceStartError(f"the API did not answer within {options.start_timeout:.0f} s", location=base_url)
        hooks.discover()
        hook_started = time.monotonic()
        results: list[HookResult] = []
        pool = ThreadPoolExecutor(max_workers=options.hook_threads, thread_name_prefix="twinrx-demo-hook")
        try:
            for patient_results in pool.map(lambda pid: hooks.run_patient(pid, DEMO_DRUGS), twins):
                results.extend(patient_results)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C, drop the calls not yet started
        hook_seconds = time.monotonic() - hook_started

        figures = _figures(
            patient_ids, twins, outcome, results, hook_seconds, time.monotonic() - started, redis_kind, auth
        )
        shown = _shown_patients(twins, results, labels, options.show_patients)
        report = write_report(
            out,
            results,
            {pid: labels.get(pid, "") for pid in shown},
            figures,
            cohort.manifest() if cohort else None,
        )
        console.print(
            cards_table(
                [r for r in results if r.patient_id in shown],
                labels,
                "CDS Hooks cards (order-select per drug, then patient-view)",
            )
        )
        print_summary(console, figures)
        console.print(f"[bold]report[/] {report['html']}")
    return DemoResult(patient_ids, twins, outcome, results, figures, report, cohort)


def _settings() -> Settings:
    """The environment's settings; an invalid ``TWINRX_*`` value is a one-line configuration error."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        what = f"TWINRX_{where.upper()}" if where else "TWINRX_* settings"
        raise ConfigError(f"invalid {what}: {first.get('msg', 'invalid')}") from None


def _shown_patients(patient_ids: list[str], results: list[HookResult], labels: dict[str, str], limit: int) -> list[str]:
    if labels:
        return [pid for pid in patient_ids if pid in labels][:limit]
    with_cards = [pid for pid in patient_ids if any(r.cards for r in results if r.patient_id == pid)]
    return (with_cards or patient_ids)[: min(limit, 6)]


def _figures(
    patient_ids: list[str],
    twins: list[str],
    outcome: IngestOutcome,
    results: list[HookResult],
    hook_seconds: float,
    total_seconds: float,
    redis_kind: str,
    auth: DemoAuth,
) -> dict[str, object]:
    indicators: Counter[str] = Counter(str(c.get("indicator", "")) for r in results for c in r.cards)
    latencies = sorted(r.elapsed_ms for r in results)
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else 0.0
    return {
        "patients": len(patient_ids),
        "twins stored": len(twins),
        "ingest failed": outcome.failed,
        "ingest seconds": round(outcome.seconds, 2),
        "resources skipped": outcome.skipped,
        "hook calls": len(results),
        "hook seconds": round(hook_seconds, 2),
        "hook latency p95 ms": round(p95, 1),
        "cards": sum(indicators.values()),
        "cards by indicator": dict(sorted(indicators.items())),
        "redis": redis_kind,
        "cds auth": auth.description,
        "total seconds": round(total_seconds, 2),
    }
