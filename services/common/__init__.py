"""Shared kernel of twinrx: settings, errors, logging, codes, the twin model and its Redis store.

Depends on nothing else in twinrx; every service package may import it.
"""

from __future__ import annotations

from .errors import (
    ConfigError,
    InputError,
    InputFileError,
    NotFound,
    StoreError,
    TransientUpstreamError,
    TwinRxError,
    UpstreamError,
    ValidationFailure,
    VersionConflict,
    operation_outcome,
)
from .settings import Settings, get_settings
from .store import TwinStore, twin_key
from .twin import (
    ConditionFact,
    Demographics,
    GeneResult,
    GenotypeInput,
    InputUsed,
    LabValue,
    MedicationFact,
    RiskResult,
    SkippedResource,
    SourceRef,
    Twin,
    fingerprint,
)

__all__ = [
    "ConditionFact",
    "ConfigError",
    "Demographics",
    "GeneResult",
    "GenotypeInput",
    "InputError",
    "InputFileError",
    "InputUsed",
    "LabValue",
    "MedicationFact",
    "NotFound",
    "RiskResult",
    "Settings",
    "SkippedResource",
    "SourceRef",
    "StoreError",
    "TransientUpstreamError",
    "Twin",
    "TwinRxError",
    "TwinStore",
    "UpstreamError",
    "ValidationFailure",
    "VersionConflict",
    "fingerprint",
    "get_settings",
    "operation_outcome",
    "twin_key",
]
