"""Render a patient's planted diplotypes as a phased, single-sample VCF over every PGx position.

Positions and allele definitions come from the committed pgx knowledge base, read through
``services.pgx._kb`` (``services/pgx/kb/alleles/<GENE>.json``: ``variants`` and ``extra_positions``
with ``pos``, ``ref``, ``alts``, ``rsid``; ``named_alleles`` with one base per variant, ``null``
meaning "not part of the definition"). Every position is written (a reference call is a real call,
not a missing one), so the matcher sees a complete panel. Genotypes are phased (``0|1``): the demo
knows each haplotype.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.common.errors import ConfigError
from services.pgx import _kb

_IUPAC: dict[str, frozenset[str]] = {
    "R": frozenset("AG"),
    "Y": frozenset("CT"),
    "S": frozenset("GC"),
    "W": frozenset("AT"),
    "K": frozenset("GT"),
    "M": frozenset("AC"),
    "B": frozenset("CGT"),
    "D": frozenset("AGT"),
    "H": frozenset("ACT"),
    "V": frozenset("ACG"),
    "N": frozenset("ACGT"),
}


@dataclass(frozen=True)
class Site:
    """One position of the panel."""

    chrom: str
    pos: int
    rsid: str | None
    ref: str
    alts: tuple[str, ...]


@dataclass(frozen=True)
class GeneDefinition:
    """A gene's positions and its named alleles (one base or ``None`` per defining variant)."""

    gene: str
    chrom: str
    variants: tuple[Site, ...]
    extra: tuple[Site, ...]
    alleles: dict[str, tuple[str | None, ...]]

    def allele_indexes(self, name: str) -> dict[int, int]:
        """Position -> VCF allele index (0 = REF) of the named allele at its defining positions."""
        try:
            bases = self.alleles[name]
        except KeyError:
            raise ConfigError(f"{self.gene} has no allele named {name!r} in the pgx knowledge base") from None
        indexes: dict[int, int] = {}
        for site, base in zip(self.variants, bases, strict=True):
            if base is not None:
                indexes[site.pos] = _index(site, base, self.gene, name)
        return indexes


def _index(site: Site, base: str, gene: str, allele: str) -> int:
    options = (site.ref, *site.alts)
    if base in options:
        return options.index(base)
    allowed = _IUPAC.get(base)
    if allowed is not None:
        for index, option in enumerate(options):
            if option in allowed:
                return index
    raise ConfigError(f"{gene} {allele}: base {base!r} at {site.chrom}:{site.pos} is not REF or an ALT")


def _site(chrom: str, raw: dict[str, object]) -> Site:
    alts = raw.get("alts") or []
    rsid = raw.get("rsid")
    return Site(
        chrom=chrom,
        pos=int(str(raw["pos"])),
        rsid=str(rsid) if rsid else None,
        ref=str(raw["ref"]),
        alts=tuple(str(a) for a in alts) if isinstance(alts, list) else (),
    )


@cache
def load_definitions() -> dict[str, GeneDefinition]:
    """Every gene's definition from the pgx knowledge base, keyed by gene symbol."""
    genes = _kb.callable_genes()
    if not genes:
        raise ConfigError(f"the pgx knowledge base has no allele definitions at {_kb.KB_DIR / 'alleles'}")
    out: dict[str, GeneDefinition] = {}
    for gene in genes:
        data = _kb.definition(gene)
        chrom = str(data["chromosome"])
        variants = tuple(_site(chrom, v) for v in data["variants"])
        extra = tuple(_site(chrom, v) for v in data.get("extra_positions") or [])
        alleles = {str(a["name"]): tuple(a["alleles"]) for a in data["named_alleles"]}
        out[str(data["gene"])] = GeneDefinition(str(data["gene"]), chrom, variants, extra, alleles)
    return out


def _chrom_key(chrom: str) -> tuple[int, str]:
    name = chrom.removeprefix("chr")
    return (int(name), "") if name.isdigit() else (100, name)


def render_vcf(sample: str, diplotypes: dict[str, tuple[str, str]]) -> str:
    """A VCF 4.2 text with one sample: every knowledge-base position, the planted haplotypes phased."""
    definitions = load_definitions()
    calls: dict[tuple[str, int], tuple[Site, str, int, int]] = {}
    for gene, definition in definitions.items():
        first: dict[int, int] = {}
        second: dict[int, int] = {}
        if gene in diplotypes:
            first = definition.allele_indexes(diplotypes[gene][0])
            second = definition.allele_indexes(diplotypes[gene][1])
        for site in (*definition.variants, *definition.extra):
            key = (site.chrom, site.pos)
            a, b = first.get(site.pos, 0), second.get(site.pos, 0)
            if key not in calls or (a, b) != (0, 0):
                calls[key] = (site, gene, a, b)
    contigs = sorted({chrom for chrom, _ in calls}, key=_chrom_key)
    lines = [
        "##fileformat=VCFv4.2",
        "##source=twinrx-demo synthetic cohort",
        "##reference=GRCh38",
        *(f"##contig=<ID={chrom},assembly=GRCh38>" for chrom in contigs),
        '##INFO=<ID=PX,Number=.,Type=String,Description="Gene">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample)),
    ]
    for chrom, pos in sorted(calls, key=lambda k: (_chrom_key(k[0]), k[1])):
        site, gene, a, b = calls[(chrom, pos)]
        alt = ",".join(site.alts) if site.alts else "."
        lines.append(
            "\t".join((chrom, str(pos), site.rsid or ".", site.ref, alt, ".", "PASS", f"PX={gene}", "GT", f"{a}|{b}"))
        )
    return "\n".join(lines) + "\n"
