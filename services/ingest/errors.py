"""Errors raised by ``services.ingest``.

The tree extends :mod:`services.common.errors`, so the CLI and the task edge map these like any
other twinrx error::

    TwinRxError
    ├── InputError
    │   ├── SourceError              a source description or folder is unusable (bad kind, missing path)
    │   └── MalformedResource        one FHIR resource cannot be read; it is skipped, the patient still ingests
    ├── UpstreamError
    │   └── AttachmentFetchError     a VCF/TSV attachment URL cannot be fetched or is not allowed
    └── NotFound
        └── PatientNotFound          the source holds nothing for the requested patient

``MalformedResource`` is normally caught inside :func:`services.ingest.build_twin` and reported as a
``SkippedResource``; it only escapes from the single-resource helpers.
"""

from __future__ import annotations

from services.common.errors import InputError, NotFound, UpstreamError


class SourceError(InputError):
    """Raised when a source description or local folder cannot be used (unknown kind, missing path)."""


class MalformedResource(InputError):
    """Raised when one FHIR resource is structurally unusable; ``reference`` names it (never its content)."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(reason, location=reference)
        self.reference = reference
        self.reason = reason


class AttachmentFetchError(UpstreamError):
    """Raised when an attachment URL is not on the FHIR server or an allow-listed host, or fails to download."""


class PatientNotFound(NotFound):
    """Raised when a source holds no resources for the requested patient."""


__all__ = ["AttachmentFetchError", "MalformedResource", "PatientNotFound", "SourceError"]
