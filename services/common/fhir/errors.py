"""Errors of the FHIR client (:mod:`services.common.fhir`).

They extend the shared tree, so tasks retry the transient ones and the CLI prints the rest::

    UpstreamError
    ├── FhirHttpError            a 4xx (other than 401/429) or an unexpected status; carries the server's
    │   │                        OperationOutcome text and is never retried
    │   └── FhirNotFound         404 / 410 for a read
    ├── FhirAuthError            the token endpoint refused us, or a request is still 401 after re-authenticating
    ├── FhirProtocolError        the server broke the protocol: a looping ``next`` link, too many pages,
    │                            a bad Bulk manifest, a non-JSON body
    ├── BulkExportError          the export failed (error status or manifest), or was cancelled
    └── TransientUpstreamError   (shared) 429/5xx/timeouts/connection errors left after retries,
        └── TokenEndpointUnavailable  the SMART token endpoint cannot be reached
"""

from __future__ import annotations

from services.common.errors import TransientUpstreamError, UpstreamError


class FhirHttpError(UpstreamError):
    """Raised for a non-retried error status; ``message`` includes the OperationOutcome diagnostics."""


class FhirNotFound(FhirHttpError):
    """Raised when a read answers 404 or 410."""


class FhirAuthError(UpstreamError):
    """Raised when the token endpoint refuses the client or a request stays 401 after one re-authentication."""


class FhirProtocolError(UpstreamError):
    """Raised when the server breaks the FHIR protocol (paging loops, page cap, bad JSON, bad manifest)."""


class BulkExportError(UpstreamError):
    """Raised when a Bulk Data export fails or is cancelled."""


class TokenEndpointUnavailable(TransientUpstreamError):
    """Raised when the SMART token endpoint cannot be reached (connection error, timeout, 5xx)."""


__all__ = [
    "BulkExportError",
    "FhirAuthError",
    "FhirHttpError",
    "FhirNotFound",
    "FhirProtocolError",
    "TokenEndpointUnavailable",
]
