"""CLI edge of services.cds_hooks (filled in by its issue)."""

from __future__ import annotations

import typer

hook_app = typer.Typer(no_args_is_help=True)
feedback_app = typer.Typer(no_args_is_help=True)


def serve() -> None:
    """Run the API."""
    raise typer.Exit(1)
