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

__all__ = ["NotPlainGT", "PlainGT", "is_text_vcf", "plain_gt_sites"]

_DOT, _ZERO, _NINE, _SLASH, _PIPE, _TAB = 46, 48, 57, 47, 124, 9


class NotPlainGT(Exception):
    """A scored line the fast path cannot decode; score the file with cyvcf2."""


class PlainGT:
    """The two allele indices of every sample on one line, and which calls are missing."""

    def __init__(self, first: npt.NDArray[np.uint8], second: npt.NDArray[np.uint8], missing: npt.NDArray[np.bool_]):
        self.first = first
        self.second = second
        self.missing = missing

    def dosage(self, allele: int) -> npt.NDArray[np.float64]:
        """Copies of ``allele`` per sample (NaN where missing), as the cyvcf2 path counts them."""
        code = _ZERO + allele
        count: npt.NDArray[np.float64] = (self.first == code).astype(np.float64) + (self.second == code)
        count[self.missing] = np.nan
        return count


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
) -> Iterator[tuple[str, int, str, list[str], PlainGT]]:
    """(chrom, pos, REF, ALTs, genotypes) for each line at a scored position; raises NotPlainGT (see above)."""
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
            if len(body) != width:
                raise NotPlainGT
            cells = np.frombuffer(body + b"\t", dtype=np.uint8).reshape(n_samples, 4)
            first, sep, second, tab = cells[:, 0], cells[:, 1], cells[:, 2], cells[:, 3]
            if not (((sep == _SLASH) | (sep == _PIPE)).all() and (tab == _TAB).all()):
                raise NotPlainGT
            dot_a, dot_b = first == _DOT, second == _DOT
            ok_a = dot_a | ((first >= _ZERO) & (first <= _NINE))
            ok_b = dot_b | ((second >= _ZERO) & (second <= _NINE))
            if not (ok_a.all() and ok_b.all()) or (dot_a != dot_b).any():
                raise NotPlainGT
            yield chrom, pos, parts[3].decode(), parts[4].decode().split(","), PlainGT(first, second, dot_a)
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
