"""CLI edge of services.pgx (filled in by its issue)."""

from __future__ import annotations

import typer

pgx_app = typer.Typer(no_args_is_help=True)
