"""A numpy fast path for the commonest VCF: text (plain or gzip/BGZF), FORMAT ``GT`` only, diploid calls.

htslib parses every field of every sample line; for GT-only lines of fixed width (``0/1``, ``1|0``...)
the genotypes sit at fixed byte offsets, so numpy can decode a whole line at once. Any scored line that
is not of that shape (haploid or multi-digit alleles, half calls, DS or other FORMAT fields) raises
:class:`NotPlainGT`, and the caller scores the file with cyvcf2 instead. Both paths give identical
dosages (tests compare them, and both against plink2).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Container, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.risk.errors import GenotypeFileError
from services.risk.prs._build import normalise_chrom

__all__ = ["NotPlainGT", "decode_block", "is_text_vcf", "plain_gt_sites"]

_DOT, _ZERO = np.uint8(46), np.uint8(48)
_UNPHASED = (ord("/") << 8) | (ord("\t") << 24)  # "a/b<TAB>" without the allele bytes
_PHASED = (ord("|") << 8) | (ord("\t") << 24)


class NotPlainGT(Exception):
    """A scored line the fast path cannot decode; score the file with cyvcf2."""


def decode_block(bodies: list[bytes], alleles: list[int], n_samples: int) -> npt.NDArray[np.float64]:
    """Copies of each line's ``alleles[k]`` per sample, shape (lines, samples), NaN where the call is missing.

    Each call is 4 bytes ``a/b<TAB>``, read as one little-endian uint32 so every check runs on contiguous
    arrays. Raises NotPlainGT unless every call is ``d/d`` or ``d|d`` (single digits or ``.``, no half calls).
    """
    words = np.frombuffer(b"\t".join(bodies) + b"\t", dtype="<u4").reshape(len(bodies), n_samples)
    glue = words & 0xFF00FF00
    first = (words & 0xFF).astype(np.uint8)
    second = ((words >> 16) & 0xFF).astype(np.uint8)
    dot_first, dot_second = first == _DOT, second == _DOT
    if not (
        ((glue == _UNPHASED) | (glue == _PHASED)).all()
        and ((first - _ZERO <= 9) | dot_first).all()
        and ((second - _ZERO <= 9) | dot_second).all()
        and (dot_first == dot_second).all()
    ):
        raise NotPlainGT
    code = (np.asarray(alleles, dtype=np.uint8) + _ZERO)[:, None]
    dosage: npt.NDArray[np.float64] = (first == code).astype(np.float64)
    dosage += second == code
    if dot_first.any():
        dosage[dot_first] = np.nan
    return dosage


def is_text_vcf(path: str | Path) -> bool:
    """True for an uncompressed or gzip/BGZF-compressed text VCF (not BCF)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as gz:
                head = gz.read(16)
        else:
            with Path(path).open("rb") as fh:
                head = fh.read(16)
    except (OSError, EOFError, zlib.error):
        return False
    return head.startswith(b"##fileformat=VCF")


def plain_gt_sites(
    path: str | Path, n_samples: int, keys: Container[tuple[str, int]]
) -> Iterator[tuple[str, int, str, list[str], bytes]]:
    """(chrom, pos, REF, ALTs, sample columns) for each line at a scored position; raises NotPlainGT (see above)."""
    width = 4 * n_samples - 1
    chroms: dict[bytes, str] = {}
    p = Path(path)
    try:
        for line in _lines(p):
            if line[:1] == b"#":
                continue
            tab1 = line.find(b"\t")
            tab2 = line.find(b"\t", tab1 + 1)
            raw_chrom = line[:tab1]
            chrom = chroms.get(raw_chrom)
            if chrom is None:
                chrom = chroms[raw_chrom] = normalise_chrom(raw_chrom.decode())
            pos = int(line[tab1 + 1 : tab2])
            if (chrom, pos) not in keys:
                continue
            parts = line.split(b"\t", 9)
            if len(parts) < 10 or parts[8] != b"GT":
                raise NotPlainGT
            body = parts[9].rstrip(b"\r")
            if len(body) != width:  # the rest of the shape is checked a block at a time by decode_block
                raise NotPlainGT
            yield chrom, pos, parts[3].upper().decode(), parts[4].upper().decode().split(","), body
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise GenotypeFileError(f"cannot be read past a record ({exc.__class__.__name__})", location=str(p)) from None


def _lines(path: Path, block: int = 1 << 24) -> Iterator[bytes]:
    """Lines (without newline) of a plain or gzip/BGZF file, read in large blocks."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if compressed else path.open("rb") as fh:
        rest = b""
        while chunk := fh.read(block):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            yield rest
