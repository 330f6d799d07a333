"""Errors raised by services.pgx (all derive from the twinrx tree in ``services.common.errors``)::

TwinRxError
└── InputError
    ├── InputFileError
    │   └── PGxFileError          a VCF/TSV/JSON file cannot be used (names file, line, field)
    │       ├── VcfFormatError    not a VCF, missing #CHROM header, truncated gzip, bad record
    │       └── GenomeBuildError  the VCF is not GRCh38 (GRCh37/hg19 detected)
    └── ValidationFailure
        └── PGxValueError         a gene, diplotype or drug query is malformed
NotFound
├── SampleNotFound                the requested sample is not in the VCF
└── UnknownDrug                   a drug query is a near miss of a known drug name (a typo)
"""

from __future__ import annotations

from services.common.errors import InputFileError, NotFound, ValidationFailure


def _where(path: str, line: int | None, field: str | None) -> str:
    location = path
    if line is not None:
        location += f":{line}"
    if field:
        location += f" ({field})"
    return location


class PGxFileError(InputFileError):
    """Raised when an input file cannot be used; the location names the file, line and field."""

    def __init__(self, message: str, *, path: str, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message, location=_where(path, line, field))
        self.path = path
        self.line = line
        self.field = field


class VcfFormatError(PGxFileError):
    """Raised for a file that is not a readable VCF/BCF (no header, truncated gzip, malformed record)."""


class GenomeBuildError(PGxFileError):
    """Raised when the VCF is on another build than GRCh38 (from the header or contig lengths)."""


class PGxValueError(ValidationFailure):
    """Raised for a malformed gene, diplotype or drug query."""


class SampleNotFound(NotFound):
    """Raised when ``--sample`` names a sample the VCF does not hold."""


class UnknownDrug(NotFound):
    """Raised by the CLI when ``--drug`` resolves to nothing and is a near miss of a name the kb knows."""
