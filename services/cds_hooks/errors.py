"""Errors of the CDS Hooks service, each mapped to one HTTP status by the app's single handler.

::

    TwinRxError (services.common.errors)
    ├── CDSHookError              base of every hook-service error; body is an OperationOutcome
    │   ├── BadHookRequest        400: malformed request or context (unknown hook, missing hookInstance ...)
    │   ├── Unauthorized          401: JWT missing or invalid; the message never says why
    │   ├── UnknownService        404: no CDS service with that id
    │   ├── PrefetchUnavailable   412: data the decision needs is neither prefetched nor fetchable
    │   └── PayloadTooLarge       413: body above ``Settings.cds_max_body_bytes``
    └── InputError
        └── ValidationFailure     422 (services.common.errors): a well-formed request whose content cannot
                                  be used (bad feedback value, prefetch no twin can be built from)

The service raises the shared ``ValidationFailure`` for 422 rather than a hook-specific copy of it: the
status, the issue code (``value``) and the OperationOutcome body are the same, from the same handler.
"""

from __future__ import annotations

from services.common.errors import TwinRxError


class CDSHookError(TwinRxError):
    """Base of the CDS Hooks service errors."""

    http_status = 400
    issue_code = "invalid"


class BadHookRequest(CDSHookError):
    """Raised for a malformed request: unknown hook, missing field, inconsistent context."""

    http_status = 400
    issue_code = "invalid"


class Unauthorized(CDSHookError):
    """Raised when the client JWT is missing or fails any check (the reason is only logged)."""

    http_status = 401
    issue_code = "login"

    def __init__(self, reason: str) -> None:
        super().__init__("authentication required")
        self.reason = reason


class UnknownService(CDSHookError):
    """Raised when the path names no CDS service."""

    http_status = 404
    issue_code = "not-found"


class PrefetchUnavailable(CDSHookError):
    """Raised when essential data is missing from prefetch and cannot be fetched (spec: 412)."""

    http_status = 412
    issue_code = "incomplete"


class PayloadTooLarge(CDSHookError):
    """Raised when the request body exceeds the configured limit."""

    http_status = 413
    issue_code = "too-costly"
