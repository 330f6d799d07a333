"""The twinrx exception tree.

Every error the product raises on purpose derives from :class:`TwinRxError`. The CLI maps
each to a one-line message and an exit code; the API maps each to an HTTP status with an
OperationOutcome. Packages add their own subclasses in their ``errors.py``::

    TwinRxError                     base; ``exit_code`` and ``http_status`` class attributes
    ├── ConfigError                 settings invalid or a required service is missing
    ├── InputError                  a file or payload the user gave is unusable (names the file/field)
    │   ├── InputFileError          a path is missing, unreadable or of the wrong format
    │   └── ValidationFailure       a value is present but invalid (unit, range, code)
    ├── StoreError                  the twin store (Redis) failed
    │   └── VersionConflict         a compare-and-set write lost to a concurrent writer
    ├── UpstreamError               a server we call (FHIR, JWKS) failed
    │   └── TransientUpstreamError  worth retrying (timeouts, 429, 5xx)
    └── NotFound                    a patient, service or resource does not exist
"""

from __future__ import annotations


class TwinRxError(Exception):
    """Base of every deliberate twinrx error."""

    exit_code: int = 1
    http_status: int = 500
    issue_code: str = "exception"

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(TwinRxError):
    """Raised when settings are invalid or a required service (Redis) cannot be reached."""

    exit_code = 78
    http_status = 503
    issue_code = "exception"


class InputError(TwinRxError):
    """Raised when user-supplied input cannot be used."""

    exit_code = 2
    http_status = 400
    issue_code = "invalid"


class InputFileError(InputError):
    """Raised when a path does not exist, cannot be read, or is not the expected format."""


class ValidationFailure(InputError):
    """Raised when a value is present but invalid (unknown unit, out-of-range number, bad code)."""

    http_status = 422
    issue_code = "value"


class StoreError(TwinRxError):
    """Raised when the twin store fails."""

    exit_code = 75
    http_status = 503
    issue_code = "transient"


class VersionConflict(StoreError):
    """Raised when a compare-and-set twin write finds a newer version than expected."""

    http_status = 409
    issue_code = "conflict"


class UpstreamError(TwinRxError):
    """Raised when a server twinrx calls (FHIR, JWKS host) answers with an error."""

    exit_code = 69
    http_status = 502
    issue_code = "exception"

    def __init__(self, message: str, *, location: str | None = None, status: int | None = None) -> None:
        super().__init__(message, location=location)
        self.status = status


class TransientUpstreamError(UpstreamError):
    """Raised for upstream failures worth retrying: timeouts, 429, 502-504."""

    exit_code = 75
    http_status = 503
    issue_code = "transient"


class NotFound(TwinRxError):
    """Raised when a requested patient, service or resource does not exist."""

    exit_code = 3
    http_status = 404
    issue_code = "not-found"


def operation_outcome(
    error: TwinRxError | str, *, severity: str = "error", code: str | None = None
) -> dict[str, object]:
    """A FHIR OperationOutcome describing ``error`` (used for every 4xx/5xx body)."""
    text = str(error)
    issue_code = code or (error.issue_code if isinstance(error, TwinRxError) else "exception")
    issue: dict[str, object] = {"severity": severity, "code": issue_code, "diagnostics": text}
    if isinstance(error, TwinRxError) and error.location:
        issue["expression"] = [error.location]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
