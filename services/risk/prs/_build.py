"""Genome builds: names as scoring files and VCFs spell them, and detection from VCF contig lengths.

>>> normalise_build("hg19"), normalise_build("GRCh38"), normalise_build("NR")
('GRCh37', 'GRCh38', None)
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CONTIG_LENGTHS", "build_from_vcf_header", "normalise_build", "normalise_chrom"]

_ALIASES: Final = {
    "grch37": "GRCh37",
    "hg19": "GRCh37",
    "b37": "GRCh37",
    "hs37d5": "GRCh37",
    "37": "GRCh37",
    "grch38": "GRCh38",
    "hg38": "GRCh38",
    "b38": "GRCh38",
    "38": "GRCh38",
}

# Primary-assembly lengths (GRC); enough chromosomes to recognise a build from a VCF's ##contig lines.
CONTIG_LENGTHS: Final = {
    "GRCh37": {"1": 249250621, "2": 243199373, "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566},
    "GRCh38": {"1": 248956422, "2": 242193529, "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415},
}

_CHROM_ALIASES: Final = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}


def normalise_build(name: str | None) -> str | None:
    """``GRCh37`` / ``GRCh38`` from the usual spellings; None for unknown or 'NR' (not reported)."""
    if not name:
        return None
    return _ALIASES.get(name.strip().lower())


def normalise_chrom(name: str) -> str:
    """Chromosome name without ``chr`` prefix, with numeric sex/mito codes as letters.

    >>> normalise_chrom("chr22"), normalise_chrom("23"), normalise_chrom("chrM")
    ('22', 'X', 'MT')
    """
    bare = name[3:] if name[:3].lower() == "chr" else name
    bare = bare.upper() if bare[:1].isalpha() else bare
    return _CHROM_ALIASES.get(bare, bare)


_CONTIG = re.compile(r"^##contig=<(.*)>$")


def build_from_vcf_header(header: str) -> tuple[str | None, str]:
    """(build, how it was found) from a VCF header: ``##reference``, contig ``assembly`` or lengths."""
    for line in header.splitlines():
        if line.startswith("##reference="):
            value = line.split("=", 1)[1]
            for token in re.split(r"[^A-Za-z0-9]+", value):
                build = normalise_build(token)
                if build:
                    return build, "##reference"
    for line in header.splitlines():
        match = _CONTIG.match(line)
        if not match:
            continue
        fields = dict(part.split("=", 1) for part in match.group(1).split(",") if "=" in part)
        if "assembly" in fields and normalise_build(fields["assembly"]):
            return normalise_build(fields["assembly"]), "##contig assembly"
        chrom = normalise_chrom(fields.get("ID", ""))
        length = fields.get("length", "")
        for build, lengths in CONTIG_LENGTHS.items():
            if length.isdigit() and lengths.get(chrom) == int(length):
                return build, f"length of contig {fields.get('ID')}"
    return None, "not stated in the VCF header"
