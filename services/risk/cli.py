"""CLI edge of services.risk (filled in by its issue)."""

from __future__ import annotations

import typer

risk_app = typer.Typer(no_args_is_help=True)
