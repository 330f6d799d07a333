"""The ``twinrx`` command line: a thin front over the library functions.

Each package contributes a Typer sub-app from its own ``cli.py``; this module only composes
them and maps :class:`~services.common.errors.TwinRxError` to a one-line message and an exit code
(never a traceback for input the user can fix).
"""

from __future__ import annotations

import sys

import typer

from services.common.errors import TwinRxError


def _build_app() -> typer.Typer:
    from services.cds_hooks.cli import feedback_app, hook_app, serve
    from services.demo.cli import demo
    from services.ingest.cli import beat, ingest_app, worker
    from services.pgx.cli import pgx_app
    from services.risk.cli import risk_app

    app = typer.Typer(
        name="twinrx",
        help="FHIR-native digital twins: pharmacogenomic and risk decision support over CDS Hooks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.command(help="Run the main job end to end on bundled (or --data) patients and print the cards.")(demo)
    app.command(help="Run the CDS Hooks API (uvicorn).")(serve)
    app.command(help="Run a Celery ingest worker.")(worker)
    app.command(help="Run the Celery beat scheduler (incremental sync).")(beat)
    app.add_typer(pgx_app, name="pgx", help="Call star alleles from VCF and look up CPIC recommendations.")
    app.add_typer(risk_app, name="risk", help="Clinical risk equations, PhenoAge and polygenic scores.")
    app.add_typer(ingest_app, name="ingest", help="Pull patients from FHIR servers or folders into twins.")
    app.add_typer(hook_app, name="hook", help="Send a signed CDS Hooks request (smoke tests).")
    app.add_typer(feedback_app, name="feedback", help="Read card feedback stored by the CDS service.")
    return app


def main() -> None:
    """Entry point of the ``twinrx`` console script."""
    app = _build_app()
    try:
        app(standalone_mode=False)
    except TwinRxError as exc:
        typer.echo(f"twinrx: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("twinrx: aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and friends carry their own formatting
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
