"""Errors raised by the risk engine.

Every class derives from :mod:`services.common.errors`, so the CLI prints one line and exits
non-zero, and the API answers with an OperationOutcome::

    TwinRxError
    └── InputError
        ├── InputFileError
        │   ├── ScoreFileError          a PGS scoring file cannot be read (bad header, columns, corrupt gzip)
        │   └── GenotypeFileError       a VCF/BCF cannot be read, or lacks the requested sample
        └── ValidationFailure
            ├── UnknownUnitError        a lab value comes in a unit the engine does not convert
            ├── ImpossibleValueError    a value no living patient can have (negative cholesterol, SBP 900)
            ├── CaseInputError          a reference case / ``risk score`` input is missing or malformed
            ├── BuildMismatchError      scoring file and genotypes are on different genome builds
            └── OverlapError            too few scoring-file variants were found in the genotypes
                └── NoMatchError        none at all were found

Messages never contain values that identify a patient: only resource references, file names,
field names and numbers.
"""

from __future__ import annotations

from services.common.errors import InputFileError, ValidationFailure

__all__ = [
    "BuildMismatchError",
    "CaseInputError",
    "GenotypeFileError",
    "ImpossibleValueError",
    "NoMatchError",
    "OverlapError",
    "ScoreFileError",
    "UnknownUnitError",
]


class ScoreFileError(InputFileError):
    """Raised when a scoring file is unreadable: missing columns, bad numbers, corrupt gzip."""


class GenotypeFileError(InputFileError):
    """Raised when a VCF/BCF is unreadable or does not hold the requested sample."""


class UnknownUnitError(ValidationFailure):
    """Raised when a lab arrives in a unit with no conversion; names the Observation."""


class ImpossibleValueError(ValidationFailure):
    """Raised when a value is outside what is physiologically possible (not merely unvalidated)."""


class CaseInputError(ValidationFailure):
    """Raised when an input of ``score_case`` is missing or of the wrong type."""


class BuildMismatchError(ValidationFailure):
    """Raised when the scoring file's genome build differs from the genotypes' build."""


class OverlapError(ValidationFailure):
    """Raised when fewer scoring variants than the minimum overlap match the genotypes."""

    def __init__(self, message: str, *, location: str | None = None, matched: int = 0, total: int = 0) -> None:
        super().__init__(message, location=location)
        self.matched = matched
        self.total = total


class NoMatchError(OverlapError):
    """Raised when no scoring variant at all matches the genotypes."""
