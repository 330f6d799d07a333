"""Region reads from a bgzipped VCF through its tabix (.tbi) linear index, in pure Python.

htslib loads the whole index before the first query (tens of milliseconds for a genome-sized file); the
few PGx regions need only one linear-index entry each. Format: SAM/BAM specification (BGZF, section 4.1)
and the tabix index format (htslib ``tabix.pdf``): per reference, bins and chunks, then ``n_intv`` 64-bit
virtual offsets, one per 16 kb window, of the first record overlapping that window.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.pgx.errors import VcfFormatError

WINDOW_SHIFT = 14  # 16 kb linear-index windows


@dataclass(frozen=True)
class TabixIndex:
    names: list[str]
    linear: dict[str, list[int]]  # reference name -> virtual offsets per 16 kb window


def read_tbi(path: Path) -> TabixIndex:
    """Parse a .tbi file (names and linear indexes only)."""
    try:
        with path.open("rb") as handle:  # BGZF: inflate block by block (no per-member CRC pass)
            data = b"".join(_blocks(handle, 0, path))
    except (OSError, EOFError, zlib.error, struct.error) as exc:
        raise VcfFormatError(f"unreadable tabix index ({exc.__class__.__name__})", path=str(path)) from exc
    if data[:4] != b"TBI\x01":
        raise VcfFormatError("not a tabix index (bad magic)", path=str(path))
    n_ref, _fmt, _seq, _beg, _end, _meta, _skip, l_nm = struct.unpack_from("<8i", data, 4)
    names = [n.decode() for n in data[36 : 36 + l_nm].split(b"\x00")[:n_ref]]
    at = 36 + l_nm
    linear: dict[str, list[int]] = {}
    for name in names:
        (n_bin,) = struct.unpack_from("<i", data, at)
        at = _skip_bins(data, at + 4, n_bin)
        (n_intv,) = struct.unpack_from("<i", data, at)
        at += 4
        linear[name] = list(struct.unpack_from(f"<{n_intv}Q", data, at))
        at += 8 * n_intv
    return TabixIndex(names, linear)


def _skip_bins(data: bytes, at: int, n_bin: int) -> int:
    """Offset after ``n_bin`` bins. Most bins hold one chunk (24 bytes): runs of those are skipped at once."""
    remaining = n_bin
    while remaining > 0:
        count = min(remaining, (len(data) - at) // 24)
        if count > 0:
            n_chunks = np.frombuffer(data, dtype="<i4", count=6 * count, offset=at)[1::6]
            other = np.flatnonzero(n_chunks != 1)
            run = int(other[0]) if other.size else count
            at += 24 * run
            remaining -= run
        if remaining > 0:  # a bin with a different chunk count
            (n_chunk,) = struct.unpack_from("<i", data, at + 4)
            at += 8 + 16 * n_chunk
            remaining -= 1
    return at


def _blocks(handle: object, coffset: int, path: Path) -> Iterator[bytes]:
    """Decompressed BGZF blocks from compressed offset ``coffset`` on."""
    from io import BufferedReader

    assert isinstance(handle, BufferedReader)
    handle.seek(coffset)
    while True:
        header = handle.read(12)
        if len(header) < 12:
            return
        if header[:2] != b"\x1f\x8b":
            raise VcfFormatError("corrupt BGZF block", path=str(path))
        (xlen,) = struct.unpack_from("<H", header, 10)
        extra = handle.read(xlen)
        bsize = None
        i = 0
        while i + 4 <= len(extra):
            si, slen = extra[i : i + 2], struct.unpack_from("<H", extra, i + 2)[0]
            if si == b"BC":
                (bsize,) = struct.unpack_from("<H", extra, i + 4)
            i += 4 + slen
        if bsize is None:
            raise VcfFormatError("not a BGZF file (no BC field)", path=str(path))
        rest = handle.read(bsize + 1 - 12 - xlen)
        try:
            block = zlib.decompress(rest[:-8], -15)
        except zlib.error as exc:
            raise VcfFormatError("corrupt or truncated BGZF block", path=str(path)) from exc
        if not block:
            return  # the empty end-of-file block
        yield block


def region_lines(path: Path, index: TabixIndex, name: str, start: int, end: int) -> Iterator[bytes]:
    """Lines of reference ``name`` from the first record overlapping ``start`` until POS passes ``end``."""
    offsets = index.linear.get(name)
    if not offsets:
        return
    window = min((start - 1) >> WINDOW_SHIFT, len(offsets) - 1)
    voff = next((o for o in reversed(offsets[: window + 1]) if o), 0)  # empty windows hold 0
    coffset, uoffset = voff >> 16, voff & 0xFFFF
    prefix = name.encode() + b"\t"
    pending = b""
    seen = False
    with path.open("rb") as handle:
        first = True
        for block in _blocks(handle, coffset, path):
            if first:
                block, first = block[uoffset:], False
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(prefix):
                    if seen and line and not line.startswith(b"#"):
                        return  # next reference: sorted file, region done
                    continue
                seen = True
                tab = line.find(b"\t", len(prefix))
                pos = int(line[len(prefix) : tab])
                if pos > end:
                    return
                if pos >= start or b"END=" in line:  # earlier lines: other regions (gVCF blocks may reach in)
                    yield line
        if pending.startswith(prefix):
            yield pending
