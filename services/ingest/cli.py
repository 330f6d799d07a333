"""CLI edge of services.ingest (filled in by its issue)."""

from __future__ import annotations

import typer

ingest_app = typer.Typer(no_args_is_help=True)


def worker() -> None:
    """Run a Celery worker."""
    raise typer.Exit(1)


def beat() -> None:
    """Run Celery beat."""
    raise typer.Exit(1)
