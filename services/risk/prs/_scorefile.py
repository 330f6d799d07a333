"""Reading PGS Catalog scoring files (format 2.0; author or harmonised columns), plain or gzipped.

Custom files in the same form are accepted: ``#key=value`` header lines (``pgs_id``, ``genome_build``,
``HmPOS_build``...), then a tab-separated table with ``effect_allele``, one or more ``effect_weight*``
columns and positions in ``chr_name``/``chr_position`` or the harmonised ``hm_chr``/``hm_pos``
(preferred when present). ``is_dominant`` / ``is_recessive`` select the dosage model per variant.
Other columns (``rsID``, ``locus_name``, ``OR``, ...) are read past and ignored. A row must reach every
column the score needs (short rows are an error naming the line and the column count); alleles must be
nucleotide strings (A, C, G, T).
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from services.risk.errors import ScoreFileError
from services.risk.prs._build import normalise_build, normalise_chrom

__all__ = ["ADDITIVE", "DOMINANT", "RECESSIVE", "ScoreFile", "read_scoring_file"]

ADDITIVE: Final = 0
DOMINANT: Final = 1
RECESSIVE: Final = 2
_TRUE: Final = frozenset({"true", "t", "1", "yes"})
_FALSE: Final = frozenset({"false", "f", "0", "no", ""})
_ALLELE: Final = re.compile(r"^[ACGT]+$")


@dataclass
class ScoreFile:
    """A scoring file in memory: one row per variant, one weight column per score."""

    path: str
    header: dict[str, str]
    score_names: list[str]
    build: str | None
    harmonised: bool
    chrom: list[str]
    pos: list[int]
    effect: list[str]
    other: list[str | None]
    weights: npt.NDArray[np.float64]
    effect_type: npt.NDArray[np.int8]
    unpositioned: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_variants(self) -> int:
        """Rows with a position (harmonised rows without one count in ``unpositioned``)."""
        return len(self.pos)

    @property
    def pgs_id(self) -> str:
        """``#pgs_id`` from the header, or the file name."""
        return self.header.get("pgs_id") or Path(self.path).name


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScoreFileError("file not found", location=str(path)) from None
    except OSError as exc:
        raise ScoreFileError(f"cannot read ({exc.strerror})", location=str(path)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ScoreFileError(f"corrupt gzip ({exc})", location=str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScoreFileError("not a text scoring file (not UTF-8)", location=str(path)) from None


def _flag(value: str, column: str, line: int, where: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ScoreFileError(f"line {line}: {column} {value!r} is not TRUE/FALSE", location=where)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_scoring_file(path: str | Path, *, use_harmonised: bool = True) -> ScoreFile:
    """Parse a scoring file; raises ScoreFileError naming the file (and line) when it cannot be used."""
    p = Path(path)
    where = str(p)
    header: dict[str, str] = {}
    columns: list[str] | None = None
    rows: list[list[str]] = []
    first_row_line = 0
    for number, line in enumerate(_read_text(p).splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if columns is None and "=" in line:
                key, value = line.lstrip("#").split("=", 1)
                header[key.strip()] = value.strip()
            continue
        if columns is None:
            columns = line.rstrip("\r").split("\t")
            first_row_line = number + 1
        else:
            rows.append(line.rstrip("\r").split("\t"))
    if columns is None:
        raise ScoreFileError("no column header line (expected effect_allele, effect_weight, ...)", location=where)
    index = {name: i for i, name in enumerate(columns)}
    weight_cols = [c for c in columns if c.startswith("effect_weight")]
    if "effect_allele" not in index or not weight_cols:
        raise ScoreFileError("needs columns effect_allele and effect_weight", location=where)
    harmonised = use_harmonised and "hm_chr" in index and "hm_pos" in index
    chr_col, pos_col = ("hm_chr", "hm_pos") if harmonised else ("chr_name", "chr_position")
    if chr_col not in index or pos_col not in index:
        raise ScoreFileError(
            "needs chr_name and chr_position (or hm_chr and hm_pos); rsID-only scoring files are not supported",
            location=where,
        )
    build = normalise_build(header.get("HmPOS_build") if harmonised else header.get("genome_build"))
    names = (
        [header.get("pgs_id") or p.name.split(".")[0]]
        if len(weight_cols) == 1
        else [c.removeprefix("effect_weight_") or c for c in weight_cols]
    )
    other_i = index.get("other_allele", index.get("hm_inferOtherAllele"))
    dom_i, rec_i = index.get("is_dominant"), index.get("is_recessive")
    w_idx = [index[c] for c in weight_cols]
    chrom: list[str] = []
    pos: list[int] = []
    effect: list[str] = []
    other: list[str | None] = []
    weights: list[list[float]] = []
    etype: list[int] = []
    unpositioned = 0
    chrom_names: dict[str, str] = {}
    needed = max(index[c] for c in (chr_col, pos_col, "effect_allele", *weight_cols)) + 1
    for offset, row in enumerate(rows):
        lineno = first_row_line + offset
        if len(row) < needed:
            raise ScoreFileError(
                f"line {lineno}: the row has {len(row)} column{'s' if len(row) != 1 else ''}, expected {len(columns)} "
                f"({', '.join(columns)})",
                location=where,
            )
        if len(row) < len(columns):  # trailing optional columns left empty (an editor trimmed the tabs)
            row = row + [""] * (len(columns) - len(row))
        c, ps = row[index[chr_col]].strip(), row[index[pos_col]].strip()
        if not c or not ps:
            if harmonised:
                unpositioned += 1
                continue
            raise ScoreFileError(f"line {lineno}: {chr_col}/{pos_col} is empty", location=where)
        try:
            position = int(ps)
        except ValueError:
            raise ScoreFileError(f"line {lineno}: {pos_col} {ps!r} is not a whole number", location=where) from None
        try:
            w = [float(row[i]) for i in w_idx]
        except ValueError:
            bad = next(c for c, i in zip(weight_cols, w_idx, strict=True) if not _is_float(row[i]))
            raise ScoreFileError(
                f"line {lineno}: {bad} {row[index[bad]].strip()!r} is not a number", location=where
            ) from None
        if not all(map(math.isfinite, w)):
            raise ScoreFileError(f"line {lineno}: effect_weight is not finite", location=where)
        ea = row[index["effect_allele"]].strip().upper()
        if not ea:
            raise ScoreFileError(f"line {lineno}: effect_allele is empty", location=where)
        if not _ALLELE.match(ea):
            raise ScoreFileError(
                f"line {lineno}: effect_allele {ea!r} is not an allele (a string of A, C, G, T)", location=where
            )
        oa = row[other_i].strip().upper() if other_i is not None else ""
        if "/" in oa:  # hm_inferOtherAllele may list several candidates: match on the effect allele alone
            oa = ""
        dominant = _flag(row[dom_i], "is_dominant", lineno, where) if dom_i is not None else False
        recessive = _flag(row[rec_i], "is_recessive", lineno, where) if rec_i is not None else False
        if dominant and recessive:
            raise ScoreFileError(f"line {lineno}: is_dominant and is_recessive are both TRUE", location=where)
        name = chrom_names.get(c)
        if name is None:
            name = chrom_names[c] = normalise_chrom(c)
        chrom.append(name)
        pos.append(position)
        effect.append(ea)
        other.append(oa or None)
        weights.append(w)
        etype.append(DOMINANT if dominant else RECESSIVE if recessive else ADDITIVE)
    if not pos:
        raise ScoreFileError("has no variants", location=where)
    return ScoreFile(
        path=where,
        header=header,
        score_names=names,
        build=build,
        harmonised=harmonised,
        chrom=chrom,
        pos=pos,
        effect=effect,
        other=other,
        weights=np.asarray(weights, dtype=np.float64),
        effect_type=np.asarray(etype, dtype=np.int8),
        unpositioned=unpositioned,
    )
