"""Checks made before a VCF is handed to htslib: file type, header, truncation and genome build.

htslib's own messages for a wrong file are terse and go to stderr; these checks give one-line errors
that name the file, line and field. Only the header (and the last 28 bytes of a BGZF file) is read.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from services.pgx.errors import GenomeBuildError, PGxFileError, VcfFormatError

# The empty BGZF block every complete bgzip file ends with (SAM/BAM specification, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
# Contig lengths that identify GRCh37 / GRCh38 (Genome Reference Consortium assembly reports).
GRCH37_LENGTHS = {"1": 249250621, "2": 243199373, "10": 135534747, "X": 155270560}
GRCH38_LENGTHS = {"1": 248956422, "2": 242193529, "10": 133797422, "X": 156040895}
_OLD_BUILD = re.compile(r"grch37|hg19|\bb37\b|hs37d5|g1k_v37|ncbi37|/37/|assembly=37", re.IGNORECASE)
_NEW_BUILD = re.compile(r"grch38|hg38|\bb38\b|hs38", re.IGNORECASE)
_CONTIG = re.compile(r"^##contig=<.*?ID=([^,>]+).*?length=(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class FileInfo:
    kind: str  # "vcf", "vcf.gz", "bcf"
    header_lines: int
    has_index: bool
    samples: tuple[str, ...] | None = None  # from the #CHROM line (text VCFs)


def _index_present(path: Path) -> bool:
    return any(Path(f"{path}{ext}").is_file() for ext in (".tbi", ".csi"))


def _header_text(path: Path, compressed: bool) -> tuple[list[str], bool]:
    """Header lines (up to and including #CHROM) and whether the header ended properly."""
    lines: list[str] = []
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("#"):
                    return lines, False
                lines.append(line.rstrip("\n"))
                if line.startswith("#CHROM"):
                    return lines, True
    except (EOFError, OSError, zlib.error) as exc:
        raise VcfFormatError(
            f"truncated or corrupt gzip data in the header ({exc.__class__.__name__})",
            path=str(path),
            line=len(lines) + 1,
        ) from exc
    return lines, False


def check_file(path: Path) -> FileInfo:
    """Validate type, header and build; raise a one-line error naming file/line/field if unusable."""
    if path.is_dir():
        raise PGxFileError("is a directory, not a VCF/BCF file", path=str(path))
    if not path.is_file():
        raise PGxFileError("file not found", path=str(path))
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            try:
                inner = gz.read(5)
            except (EOFError, OSError, zlib.error) as exc:
                raise VcfFormatError("truncated or corrupt gzip data", path=str(path), line=1) from exc
        if inner.startswith(b"BCF"):
            _check_bgzf_eof(path)
            return FileInfo("bcf", 0, _index_present(path))
        _check_bgzf_eof(path)
        kind = "vcf.gz"
    elif magic.startswith(b"BCF"):
        return FileInfo("bcf", 0, False)
    else:
        kind = "vcf"
    lines, complete = _header_text(path, kind == "vcf.gz")
    if not lines or not lines[0].startswith("##fileformat=VCF") and not lines[0].startswith("#CHROM"):
        raise VcfFormatError("not a VCF file (first line is not '##fileformat=VCF...')", path=str(path), line=1)
    if not complete:
        raise VcfFormatError(
            "missing '#CHROM' header line before the first record", path=str(path), line=len(lines) + 1, field="#CHROM"
        )
    header = lines[-1].split("\t")
    if header[:8] != ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]:
        raise VcfFormatError("malformed '#CHROM' header line", path=str(path), line=len(lines), field="#CHROM")
    _check_build(path, lines)
    return FileInfo(kind, len(lines), kind == "vcf.gz" and _index_present(path), tuple(header[9:]))


def _check_bgzf_eof(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(18)
        is_bgzf = len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"
        if not is_bgzf:
            return
        handle.seek(-28, 2)
        if handle.read(28) != BGZF_EOF:
            raise VcfFormatError("truncated bgzip file (missing BGZF end-of-file block)", path=str(path))


def _check_build(path: Path, lines: list[str]) -> None:
    for number, line in enumerate(lines, start=1):
        lower = line.lower()
        declares = lower.startswith(("##reference", "##assembly")) or (
            lower.startswith("##contig") and "assembly" in lower
        )
        if declares and _OLD_BUILD.search(line) and not _NEW_BUILD.search(line):
            raise GenomeBuildError(
                "GRCh37/hg19 input: twinrx reads GRCh38 only (lift over or re-align first)",
                path=str(path),
                line=number,
                field=line.split("=", 1)[0].lstrip("#"),
            )
        if m := _CONTIG.match(line):
            chrom = m.group(1)
            key = chrom[3:] if chrom.lower().startswith("chr") else chrom
            length = int(m.group(2))
            if GRCH37_LENGTHS.get(key) == length:
                raise GenomeBuildError(
                    f"contig {chrom} has the GRCh37 length {length}: twinrx reads GRCh38 only",
                    path=str(path),
                    line=number,
                    field="contig",
                )
