"""The ``twinrx`` command line: a thin front over the library functions.

Each package contributes a Typer sub-app from its own ``cli.py``; this module only composes
them and maps :class:`~services.common.errors.TwinRxError` to a one-line message and an exit code
(never a traceback for input the user can fix).
"""

from __future__ import annotations

import importlib
import sys

import typer
from pydantic import ValidationError

from services.common.errors import TwinRxError

# Each entry: command name -> (module, attribute, is a sub-app, help). Only the module of the
# command being run is imported, so `twinrx risk ...` does not pay for FastAPI and Celery.
_COMMANDS: dict[str, tuple[str, str, bool, str]] = {
    "demo": (
        "services.demo.cli",
        "demo",
        False,
        "Run the main job end to end on bundled (or --data) patients and print the cards.",
    ),
    "serve": ("services.cds_hooks.cli", "serve", False, "Run the CDS Hooks API (uvicorn)."),
    "worker": ("services.ingest.cli", "worker", False, "Run a Celery ingest worker."),
    "beat": ("services.ingest.cli", "beat", False, "Run the Celery beat scheduler (incremental sync)."),
    "pgx": ("services.pgx.cli", "pgx_app", True, "Call star alleles from VCF and look up CPIC recommendations."),
    "risk": ("services.risk.cli", "risk_app", True, "Clinical risk equations, PhenoAge and polygenic scores."),
    "ingest": ("services.ingest.cli", "ingest_app", True, "Pull patients from FHIR servers or folders into twins."),
    "hook": ("services.cds_hooks.cli", "hook_app", True, "Send a signed CDS Hooks request (smoke tests)."),
    "feedback": ("services.cds_hooks.cli", "feedback_app", True, "Read card feedback stored by the CDS service."),
}


def _root() -> None:
    """FHIR-native digital twins: pharmacogenomic and risk decision support over CDS Hooks."""


def _build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or only ``only`` (plus stubs listing the rest in --help)."""
    app = typer.Typer(
        name="twinrx",
        help="FHIR-native digital twins: pharmacogenomic and risk decision support over CDS Hooks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # A callback keeps `twinrx` a group even when a single command is loaded (Typer would otherwise
    # collapse a one-command app into that command).
    app.callback()(_root)
    for name, (module_name, attribute, is_group, help_text) in _COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module_name), attribute)
        if is_group:
            app.add_typer(target, name=name, help=help_text)
        else:
            app.command(name=name, help=help_text)(target)
    return app


def settings_error_line(exc: ValidationError) -> str:
    """One line naming the environment variable of the first invalid setting."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    name = f"TWINRX_{field.upper()}" if field else "TWINRX_* settings"
    return f"invalid {name}: {first['msg']}"


def _forget_handled_interrupt() -> None:
    """Clear CPython's "unhandled Ctrl-C" mark before a deliberate exit.

    CPython 3.11 marks the process when a KeyboardInterrupt leaves code run by ``exec``/``eval`` of a
    string, as ``dataclasses`` and ``namedtuple`` do while a module imports. The mark stays even when
    our code catches the interrupt later, and at exit the interpreter then kills itself with SIGINT
    (status -2) instead of returning the 130 we chose. Every string ``exec`` resets the mark first.
    """
    exec("None")  # noqa: S102 - a constant; only its side effect on the mark matters


def main() -> None:
    """Entry point of the ``twinrx`` console script."""
    requested = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        app = _build_app(requested if requested in _COMMANDS else None)
        # Without standalone mode, click *returns* the code of typer.Exit(n) and of Ctrl-C instead of
        # exiting with it; pass it on so scripts and CI see the real status.
        status = app(prog_name="twinrx", standalone_mode=False)
    except TwinRxError as exc:
        typer.echo(f"twinrx: error: {exc}", err=True)
        _forget_handled_interrupt()
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        typer.echo(f"twinrx: error: {settings_error_line(exc)}", err=True)
        sys.exit(78)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("twinrx: aborted", err=True)
        _forget_handled_interrupt()
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors (unknown command, bad option) come from the click that Typer bundles; they know
        # how to print themselves. Matched by shape because that click is private to Typer.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
    if isinstance(status, int) and status != 0:
        sys.exit(status)


if __name__ == "__main__":
    main()
