"""Fast scan of an unindexed text VCF (plain or gzip/bgzip) for the records near PGx positions.

Without an index every line must be read. Only CHROM and POS are looked at (plus a check for ``END=``
for gVCF blocks); the few lines within ``WINDOW`` bases before a definition position are parsed into a
small record object with the attributes the collector uses (the same ones cyvcf2's Variant has).
"""

from __future__ import annotations

import bisect
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from services.pgx.errors import VcfFormatError

WINDOW = 200  # longest REF allele we expect to start before and still cover a definition position


@dataclass
class TextVariant:
    """The subset of cyvcf2.Variant the collector reads, parsed from one VCF line."""

    CHROM: str
    POS: int
    REF: str
    ALT: list[str]
    INFO: dict[str, str]
    genotypes: list[list[int | bool]]
    _ps: list[list[int]] | None = field(default=None, repr=False)

    def format(self, key: str) -> list[list[int]] | None:
        return self._ps if key == "PS" else None


def _gt_codes(gt: str, alt_count: int, path: Path, number: int | None, fields: list[str]) -> list[int]:
    """Allele indexes of one GT value (-1 = missing); a malformed value or an index past ALT is an error."""
    where = "" if number is not None else f" at {fields[0]}:{fields[1]}"  # tabix regions: no file line number
    codes: list[int] = []
    for allele in gt.replace("|", "/").split("/"):
        if allele in (".", ""):
            codes.append(-1)
            continue
        if not (allele.isascii() and allele.isdigit()):
            raise VcfFormatError(f"invalid genotype {gt!r}{where}", path=str(path), line=number, field="GT")
        code = int(allele)
        if code > alt_count:
            raise VcfFormatError(
                f"allele index {code} but the record{where} has {alt_count} ALT allele{'' if alt_count == 1 else 's'}",
                path=str(path),
                line=number,
                field="GT",
            )
        codes.append(code)
    return codes


def parse_line(line: bytes, path: Path, number: int | None) -> TextVariant:
    fields = line.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")
    if len(fields) < 8:
        raise VcfFormatError("record has fewer than 8 columns", path=str(path), line=number)
    try:
        pos = int(fields[1])
    except ValueError as exc:
        raise VcfFormatError(f"POS {fields[1]!r} is not a number", path=str(path), line=number, field="POS") from exc
    info: dict[str, str] = {}
    for item in fields[7].split(";"):
        key, _, value = item.partition("=")
        info[key] = value
    alt_count = len(fields[4].split(",")) if fields[4] != "." else 0
    genotypes: list[list[int | bool]] = []
    ps_rows: list[list[int]] = []
    has_ps = False
    if len(fields) > 9:
        keys = fields[8].split(":")
        gt_at = keys.index("GT") if "GT" in keys else -1
        ps_at = keys.index("PS") if "PS" in keys else -1
        has_ps = ps_at >= 0
        for sample in fields[9:]:
            values = sample.split(":")
            gt = values[gt_at] if 0 <= gt_at < len(values) else "."
            codes: list[int | bool] = list(_gt_codes(gt, alt_count, path, number, fields))
            genotypes.append([*codes, "|" in gt])
            ps = values[ps_at] if 0 <= ps_at < len(values) else "."
            ps_rows.append([int(ps) if ps.isdigit() else -1])
    return TextVariant(
        fields[0],
        pos,
        fields[3],
        fields[4].split(",") if fields[4] != "." else [],
        info,
        genotypes,
        ps_rows if has_ps else None,
    )


CHUNK = 8 << 20  # bytes of decompressed text handled per step
_TAB, _NL, _HASH, _ZERO = 9, 10, 35, 48


def _chrom_keys(positions: dict[str, list[int]]) -> dict[bytes, str]:
    keys = {c.encode(): c for c in positions}
    keys.update({f"chr{c}".encode(): c for c in positions})
    if "M" in positions:
        keys[b"MT"] = keys[b"chrMT"] = "M"
    return keys


def _lines_slow(chunk: bytes, first: int, ctx: _Context) -> Iterator[TextVariant]:
    """Line by line (gVCF blocks, malformed lines, anything the vectorised path does not handle)."""
    for offset, line in enumerate(chunk.split(b"\n")[:-1]):
        number = first + offset
        if line[:1] == b"#" or not line:
            continue
        tab = line.find(b"\t")
        chrom = ctx.keys.get(line[:tab])
        if chrom is None:
            continue
        tab2 = line.find(b"\t", tab + 1)
        try:
            pos = int(line[tab + 1 : tab2])
        except ValueError as exc:
            raise VcfFormatError("POS is not a number", path=str(ctx.path), line=number, field="POS") from exc
        wanted = ctx.positions[chrom]
        k = bisect.bisect_left(wanted, pos)
        if k < len(wanted) and wanted[k] - pos <= WINDOW:
            yield parse_line(line, ctx.path, number)
        elif k < len(wanted) and (at := line.find(b"END=")) >= 0:  # gVCF block: does it cover one?
            digits = line[at + 4 : at + 24].split(b";")[0].split(b"\t")[0]
            if digits.isdigit() and int(digits) >= wanted[k]:
                yield parse_line(line, ctx.path, number)


def _lines_fast(chunk: bytes, first: int, ctx: _Context) -> Iterator[TextVariant] | None:
    """Vectorised CHROM/POS screen of a whole chunk; None when the chunk needs the line-by-line path."""
    a = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(a == _NL)
    starts = np.concatenate((np.array([0]), ends[:-1] + 1))
    numbers = np.arange(first, first + len(ends))
    keep = (ends > starts) & (a[np.minimum(starts, len(a) - 1)] != _HASH)
    starts, ends, numbers = starts[keep], ends[keep], numbers[keep]
    if len(starts) == 0:
        return iter(())
    tabs = np.flatnonzero(a == _TAB)
    i1 = np.searchsorted(tabs, starts)
    if i1.max(initial=0) + 1 >= len(tabs):
        return None
    t1, t2 = tabs[i1], tabs[i1 + 1]
    width = t2 - t1 - 1
    if (t2 >= ends).any() or (width < 1).any() or (width > 10).any() or (t1 - starts > 8).any():
        return None
    pos = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(width.max())):  # POS digit by digit: one 1-D gather per column
        has = width > j
        digit = a[np.minimum(t1 + 1 + j, len(a) - 1)].astype(np.int64) - _ZERO
        if ((digit < 0) | (digit > 9))[has].any():
            return None
        pos = np.where(has, pos * 10 + digit, pos)
    name_len = t1 - starts
    code = np.zeros(len(starts), dtype=np.uint64)
    for j in range(int(name_len.max())):  # CHROM (at most 8 bytes) packed into one integer
        byte = a[np.minimum(starts + j, len(a) - 1)].astype(np.uint64)
        code |= np.where(name_len > j, byte << np.uint64(8 * j), np.uint64(0))
    picked = np.zeros(len(starts), dtype=bool)
    for raw, chrom in ctx.keys.items():
        this = code == ctx.codes[raw]
        if not this.any():
            continue
        wanted = ctx.arrays[chrom]
        j = np.searchsorted(wanted, pos[this])
        near = (j < len(wanted)) & (wanted[np.minimum(j, len(wanted) - 1)] - pos[this] <= WINDOW)
        picked[np.flatnonzero(this)[near]] = True
    rows = np.flatnonzero(picked)
    return (parse_line(chunk[starts[r] : ends[r]], ctx.path, int(numbers[r])) for r in rows)


@dataclass
class _Context:
    path: Path
    positions: dict[str, list[int]]
    keys: dict[bytes, str]
    codes: dict[bytes, int]
    arrays: dict[str, np.ndarray[Any, np.dtype[np.int64]]]


def scan(path: Path, positions: dict[str, list[int]], compressed: bool) -> Iterator[TextVariant]:
    """Records whose POS lies within WINDOW bases before a wanted position, and gVCF blocks (END=)."""
    keys = _chrom_keys(positions)
    codes = {raw: sum(b << (8 * i) for i, b in enumerate(raw[:8])) for raw in keys}
    arrays = {c: np.asarray(v, dtype=np.int64) for c, v in positions.items()}
    ctx = _Context(path, positions, keys, codes, arrays)
    opener = gzip.open if compressed else open
    number = 1
    carry = b""
    try:
        with opener(path, "rb") as handle:
            while True:
                block = handle.read(CHUNK)
                buffer = carry + block
                if not block:
                    if buffer:
                        buffer += b"\n"
                    else:
                        break
                cut = buffer.rfind(b"\n") + 1
                chunk, carry = buffer[:cut], buffer[cut:]
                if not chunk:  # a line longer than CHUNK: read on
                    continue
                fast = None if b"END=" in chunk else _lines_fast(chunk, number, ctx)
                yield from fast if fast is not None else _lines_slow(chunk, number, ctx)
                number += chunk.count(b"\n")
                if not block:
                    break
    except (EOFError, zlib.error) as exc:
        raise VcfFormatError(
            f"truncated or corrupt gzip data ({exc.__class__.__name__})", path=str(path), line=number
        ) from exc
    except OSError as exc:
        raise VcfFormatError(f"unreadable file ({exc})", path=str(path), line=number) from exc
