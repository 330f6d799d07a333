"""CLI edge of the demo: ``twinrx demo [--data DIR] [--patients N] [--out DIR] [--seed S]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cohort import DEFAULT_PATIENTS, DEFAULT_SEED


def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder of FHIR Bundles / resources / Bulk NDJSON (plus VCFs) to run on instead of the "
            "built-in synthetic cohort.",
        ),
    ] = None,
    patients: Annotated[
        int, typer.Option("--patients", help="Size of the synthetic cohort (ignored with --data).")
    ] = DEFAULT_PATIENTS,
    out: Annotated[
        Path, typer.Option("--out", help="Report folder: cards.json, summary.json, index.html, logs/.")
    ] = Path("twinrx-report"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort (same seed, same files).")] = (
        DEFAULT_SEED
    ),
    ingest_timeout: Annotated[
        float, typer.Option("--ingest-timeout", help="Seconds to wait for all twins before failing.")
    ] = 600.0,
) -> None:
    """Run the main job end to end and print the cards."""
    from services.common.errors import ValidationFailure

    from .errors import DemoInterrupted
    from .runner import DemoOptions, run_demo

    if ingest_timeout <= 0:
        raise ValidationFailure("--ingest-timeout must be a positive number of seconds")

    try:
        run_demo(DemoOptions(data=data, patients=patients, seed=seed, out=out, ingest_timeout=ingest_timeout))
    except KeyboardInterrupt:
        raise DemoInterrupted("interrupted; every process the demo started has been stopped") from None
