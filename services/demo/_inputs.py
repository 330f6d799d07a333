"""``--data DIR``: check a folder of FHIR Bundles / resources / Bulk NDJSON (plus VCFs) before anything starts.

The ingest folder scanner is lenient (it skips what it cannot read and goes on); the demo is strict
at its front door: a missing path, a file that is not JSON, or a truncated NDJSON line stops the run
with one line naming the file, before Redis or any process is started.
"""

from __future__ import annotations

from pathlib import Path

from services.common.errors import InputFileError


def scan_inputs(folder: Path, notes: list[str] | None = None) -> list[str]:
    """Patient ids found in ``folder``; raises :class:`InputFileError` naming the first unusable file.

    Loose VCFs that link to no patient (or cannot be read) are not fatal: their reasons go to ``notes``.
    """
    if not folder.exists():
        raise InputFileError("no such file or folder", location=str(folder))
    if not folder.is_dir():
        raise InputFileError("--data must be a folder of FHIR Bundles, resources or Bulk NDJSON", location=str(folder))
    from services.ingest import scan_directory, unreadable_files

    try:
        scan = scan_directory(folder)
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror}", location=str(exc.filename or folder)) from exc
    unreadable = unreadable_files(folder, scan.skipped)
    if unreadable:
        location, reason = unreadable[0]
        raise InputFileError(f"malformed input ({reason})", location=location)
    for skipped in scan.skipped:
        if notes is not None and skipped.reference.startswith("VCF/") and skipped.reason.startswith("VCF "):
            notes.append(skipped.reason)
    if not scan.patients:
        raise InputFileError(
            "no patients found (expected FHIR Bundles, resources or Bulk NDJSON)", location=str(folder)
        )
    return sorted(scan.patients)
