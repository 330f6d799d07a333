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


def parse_line(line: bytes, path: Path, number: int) -> TextVariant:
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
            codes: list[int | bool] = [-1 if a in (".", "") else int(a) for a in gt.replace("|", "/").split("/")]
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


def scan(path: Path, positions: dict[str, list[int]], compressed: bool) -> Iterator[TextVariant]:
    """Records whose POS lies within WINDOW bases before a wanted position, and gVCF blocks (END=)."""
    keys = {c.encode(): c for c in positions}
    keys.update({f"chr{c}".encode(): c for c in positions})
    if "M" in positions:
        keys[b"MT"] = keys[b"chrMT"] = "M"
    opener = gzip.open if compressed else open
    number = 0
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):  # noqa: B007 (number used in errors)
                if line[:1] == b"#":
                    continue
                tab = line.find(b"\t")
                chrom = keys.get(line[:tab])
                if chrom is None:
                    continue
                tab2 = line.find(b"\t", tab + 1)
                try:
                    pos = int(line[tab + 1 : tab2])
                except ValueError as exc:
                    raise VcfFormatError("POS is not a number", path=str(path), line=number, field="POS") from exc
                wanted = positions[chrom]
                k = bisect.bisect_left(wanted, pos)
                if k < len(wanted) and wanted[k] - pos <= WINDOW:
                    yield parse_line(line, path, number)
                elif k < len(wanted) and (at := line.find(b"END=")) >= 0:  # gVCF block: does it cover one?
                    digits = line[at + 4 : at + 24].split(b";")[0].split(b"\t")[0]
                    if digits.isdigit() and int(digits) >= wanted[k]:
                        yield parse_line(line, path, number)
    except (EOFError, zlib.error) as exc:
        raise VcfFormatError(
            f"truncated or corrupt gzip data ({exc.__class__.__name__})", path=str(path), line=number + 1
        ) from exc
    except OSError as exc:
        raise VcfFormatError(f"unreadable file ({exc})", path=str(path), line=number + 1) from exc
