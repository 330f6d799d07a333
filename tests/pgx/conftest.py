"""Helpers for the pgx tests: tiny VCFs written on the fly from the definition positions."""

from __future__ import annotations

from pathlib import Path

HEADER = '##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"


def write_vcf(path: Path, records: list[str], *, samples: tuple[str, ...] = ("S1",), extra_header: str = "") -> Path:
    """A VCF with ``records`` given as 'chrom pos ref alt gt...' (space separated)."""
    lines = [HEADER + extra_header + COLUMNS + "\t" + "\t".join(samples)]
    for rec in records:
        chrom, pos, ref, alt, *gts = rec.split()
        lines.append("\t".join([chrom, pos, ".", ref, alt, ".", "PASS", ".", "GT", *gts]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
