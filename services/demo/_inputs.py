"""``--data DIR``: check a folder of FHIR Bundles / resources / Bulk NDJSON (plus VCFs) before anything starts.

The ingest folder scanner is lenient (it skips what it cannot read and goes on); the demo is strict
at its front door: a missing path, a file that is not JSON, or a truncated NDJSON line stops the run
with one line naming the file, before Redis or any process is started.
"""

from __future__ import annotations

from pathlib import Path

from services.common.errors import InputFileError

# Reasons the ingest scanner gives for a whole file (or NDJSON line) it could not read.
_FILE_LEVEL = ("unreadable JSON", "invalid JSON line", "not a FHIR resource", "Bundle.entry is not a list")


def scan_inputs(folder: Path, notes: list[str] | None = None) -> list[str]:
    """Patient ids found in ``folder``; raises :class:`InputFileError` naming the first unusable file.

    Loose VCFs that link to no patient (or cannot be read) are not fatal: their reasons go to ``notes``.
    """
    if not folder.exists():
        raise InputFileError("no such file or folder", location=str(folder))
    if not folder.is_dir():
        raise InputFileError("--data must be a folder of FHIR Bundles, resources or Bulk NDJSON", location=str(folder))
    from services.ingest import scan_directory

    try:
        scan = scan_directory(folder)
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror}", location=str(exc.filename or folder)) from exc
    for skipped in scan.skipped:
        if notes is not None and skipped.reference.startswith("VCF/") and skipped.reason.startswith("VCF "):
            notes.append(skipped.reason)
        if skipped.reason.startswith(_FILE_LEVEL):
            raise InputFileError(f"malformed input ({skipped.reason})", location=_locate(folder, skipped.reference))
    if not scan.patients:
        raise InputFileError(
            "no patients found (expected FHIR Bundles, resources or Bulk NDJSON)", location=str(folder)
        )
    return sorted(scan.patients)


def _locate(folder: Path, reference: str) -> str:
    """The path of a skipped file (the scanner reports bare names, maybe with ``:line``)."""
    name, _, line = reference.partition(":")
    matches = sorted(folder.rglob(name.split("#", 1)[0]))
    path = str(matches[0]) if matches else str(folder / name)
    return f"{path}:{line}" if line else path
