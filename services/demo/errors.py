"""Errors of the demo orchestrator.

::

    TwinRxError (services.common.errors)
    └── DemoError               the demo could not complete
        ├── ServiceStartError   a child process (worker, API) failed to start or exited early
        ├── IngestTimeout       twins did not appear in the store before the deadline
        ├── HookCallError       the CDS Hooks API answered a request with an error
        └── DemoInterrupted     Ctrl-C / SIGTERM: everything was stopped, exit code 130

Input problems (a wrong ``--data`` path, a malformed file) are raised as
:class:`services.common.errors.InputFileError` and friends, so the CLI prints one line naming the file.
"""

from __future__ import annotations

from services.common.errors import TwinRxError


class DemoError(TwinRxError):
    """Raised when the demo cannot complete one of its stages."""

    exit_code = 70


class ServiceStartError(DemoError):
    """Raised when the worker or the API process does not become ready, or exits early."""


class IngestTimeout(DemoError):
    """Raised when some twins are still missing at the ingest deadline."""

    exit_code = 75


class HookCallError(DemoError):
    """Raised when the CDS Hooks API answers a demo request with a non-2xx status."""


class DemoInterrupted(DemoError):
    """Raised after a Ctrl-C or SIGTERM once every process the demo started has been stopped."""

    exit_code = 130
