"""Named-allele matching as PharmCAT does it: positions scored, strands permuted, top-scoring diplotypes kept.

1. Each named allele is the set of (position, allowed bases) it defines; blank cells match anything and
   missing sample positions are dropped from every definition, so an allele's score is the number of its
   defined positions present in the sample.
2. Heterozygous positions are grouped into phase blocks (one block per phase set of ``|`` calls; each
   unphased heterozygous call is its own block). Every orientation of the blocks is tried; for each, the
   alleles matching strand 1 and strand 2 are paired and the pair's score is the sum of the two scores.
3. The top-scoring pairs are returned, all of them when several tie (``*1/*4 | *1/*17``).
An allele at a defining position that no definition documents makes the gene "not called", except for
the toxicity genes, where it is read as reference (PharmCAT's rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from services.pgx import _kb
from services.pgx._vcf import SiteCall

IUPAC = {
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}
UNDOCUMENTED_AS_REFERENCE = frozenset({"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"})


@dataclass
class Match:
    """The matcher's answer for one gene of one sample."""

    diplotypes: list[str] = field(default_factory=list)
    missing_positions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    called: bool = True  # False = "not called by matcher" (no data, undocumented allele, too ambiguous)
    haploid: bool = False


@dataclass(frozen=True)
class Allele:
    name: str
    constraints: tuple[tuple[int, frozenset[str]], ...]
    reference: bool
    score: int


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key: combinations after single alleles, fewer parts first, numbers compared as numbers."""
    parts = name.strip("[]").split(" + ")
    chunks = tuple(
        tuple((1, "", int(c)) if c.isdigit() else (0, c, 0) for c in re.split(r"(\d+)", p) if c) for p in parts
    )
    return (name.startswith("["), len(parts), chunks)


def order_pair(a: str, b: str) -> str:
    first, second = sorted((a, b), key=natural_key)
    return f"{first}/{second}"


def _allowed(value: str) -> frozenset[str]:
    if len(value) == 1 and value in IUPAC:
        return frozenset(IUPAC[value])
    return frozenset({value})


@cache
def _compiled(gene: str) -> tuple[tuple[str, bool, tuple[tuple[int, frozenset[str], bool], ...]], ...]:
    """Per allele: name, reference flag, and (position, allowed bases, defined cell?) for every position."""
    definition = _kb.definition(gene)
    ignored = set(definition["ignored_alleles"])
    refs = [frozenset({v["ref"]}) for v in definition["variants"]]
    out = []
    for a in definition["named_alleles"]:
        if a["name"] in ignored or a.get("structural"):
            continue
        cells = tuple((i, _allowed(v) if v is not None else refs[i], v is not None) for i, v in enumerate(a["alleles"]))
        out.append((a["name"], bool(a["reference"]), cells))
    return tuple(out)


def named_alleles(
    definition: dict[str, Any], available: set[int], *, blanks_are_reference: bool = True
) -> list[Allele]:
    """Definitions restricted to the positions the sample has (alleles with nothing left are dropped).

    Blank cells mean the reference base (``blanks_are_reference``); the score counts defined cells only.
    """
    out = []
    everything = len(available) == len(definition["variants"])
    for name, reference, cells in _compiled(definition["gene"]):
        kept = cells if everything else tuple(c for c in cells if c[0] in available)
        score = sum(1 for c in kept if c[2])
        if not score:
            continue
        constraints = tuple((i, allowed) for i, allowed, defined in kept if defined or blanks_are_reference)
        out.append(Allele(name, constraints, reference, score))
    return out


def prepare(
    gene: str, definition: dict[str, Any], calls: dict[int, SiteCall], match: Match, *, keep_partial: bool = False
) -> dict[int, SiteCall]:
    """Missing positions, undocumented alleles (reference for toxicity genes, else not called)."""
    ignored = {(p, r) for p, r in definition["ignored_positions"]}
    variants = definition["variants"]
    for i, v in enumerate(variants):
        if (v["pos"], v["ref"]) not in ignored and i not in calls:
            match.missing_positions.append(v["rsid"] or f"{definition['chromosome']}:{v['pos']}")
    usable: dict[int, SiteCall] = {}
    for i, call in calls.items():
        v = variants[i]
        known = {v["ref"], *v["alts"]}
        if None in call.alleles and not keep_partial:
            label = v["rsid"] or f"{definition['chromosome']}:{v['pos']}"
            match.missing_positions.append(label)
            match.warnings.append(f"partial genotype at {label} treated as missing")
            continue
        if all(a is None or a in known for a in call.alleles):
            usable[i] = call
            continue
        label = v["rsid"] or f"{definition['chromosome']}:{v['pos']}"
        if gene in UNDOCUMENTED_AS_REFERENCE:
            match.warnings.append(f"undocumented allele at {label} read as reference")
            usable[i] = SiteCall(
                tuple(a if a is None or a in known else v["ref"] for a in call.alleles), call.phased, call.ps
            )
        else:
            match.warnings.append(f"undocumented allele at {label}: gene not called")
            match.called = False
    return usable


def phase_blocks(calls: dict[int, SiteCall]) -> list[list[int]]:
    """Heterozygous positions grouped by phase set; unphased heterozygous calls are blocks of one."""
    blocks: dict[object, list[int]] = {}
    for i in sorted(calls):
        call = calls[i]
        if len(call.alleles) < 2 or call.alleles[0] == call.alleles[1]:
            continue
        key: object = ("ps", call.ps) if call.phased else ("unphased", i)
        blocks.setdefault(key, []).append(i)
    return list(blocks.values())


def match_gene(
    gene: str, definition: dict[str, Any], calls: dict[int, SiteCall], *, all_matches: bool = False
) -> Match:
    """Top-scoring diplotypes of one gene (every matching diplotype, best first, with ``all_matches``)."""
    match = Match()
    usable = prepare(gene, definition, calls, match)
    if not usable:
        match.called = False
        match.warnings.append("no genotype at any defining position")
        return match
    if not match.called:
        return match
    # Defined cells only; a blank cell (= reference base) is checked against ``refs`` where it matters.
    alleles = named_alleles(definition, set(usable), blanks_are_reference=False)
    refs = {i: definition["variants"][i]["ref"] for i in usable}
    if all(len(c.alleles) == 1 for c in usable.values()):  # hemizygous (chrX in males, chrM)
        match.haploid = True
        variant_at = {i for i, c in usable.items() if c.alleles[0] != refs[i]}
        hits = [
            a
            for a in alleles
            if variant_at <= {i for i, _ in a.constraints}
            and all(usable[i].alleles[0] in allowed for i, allowed in a.constraints)
        ]
        best = max((a.score for a in hits), default=0)
        match.diplotypes = sorted({a.name for a in hits if a.score == best}, key=natural_key)
        return match
    block_of = _block_index(usable)
    no_ref = {i for i, c in usable.items() if refs[i] not in c.alleles}
    compatible = [(a, dict(a.constraints)) for a in alleles if _fits_genotype(a, usable, no_ref)]
    scores: dict[str, int] = {}
    sub = definition.get("suballeles", {})
    for x, (a, amap) in enumerate(compatible):
        for b, bmap in compatible[x:]:
            if _pair_fits(amap, bmap, usable, block_of, refs):
                name = order_pair(sub.get(a.name, a.name), sub.get(b.name, b.name))
                scores[name] = max(scores.get(name, -1), a.score + b.score)
    if not scores:
        match.called = False
        match.warnings.append("no pair of named alleles matches the genotypes")
        return match
    best = max(scores.values())
    ranked = sorted(scores, key=lambda d: (-scores[d], [natural_key(x) for x in d.split("/")]))
    match.diplotypes = ranked if all_matches else _prioritise(definition, [d for d in ranked if scores[d] == best])
    return match


def _block_index(calls: dict[int, SiteCall]) -> dict[int, int]:
    """Heterozygous position -> phase block number."""
    return {i: n for n, block in enumerate(phase_blocks(calls)) for i in block}


def _fits_genotype(allele: Allele, calls: dict[int, SiteCall], no_ref: set[int]) -> bool:
    """Each defined cell matches one of the two alleles; where the sample has no reference allele at all,
    the allele must define the position (a blank cell means the reference base)."""
    if not no_ref <= {i for i, _ in allele.constraints}:
        return False
    return all(any(x in allowed for x in calls[i].alleles) for i, allowed in allele.constraints)


def _pair_fits(
    a: dict[int, frozenset[str]],
    b: dict[int, frozenset[str]],
    calls: dict[int, SiteCall],
    block_of: dict[int, int],
    refs: dict[int, str],
) -> bool:
    """Can alleles ``a`` and ``b`` be the two strands, with one orientation per phase block?

    Only heterozygous positions and the two alleles' defined positions need checking: elsewhere the sample
    is homozygous reference and both blank cells read as reference.
    """
    orientations: dict[int, set[bool]] = {}
    for i in set(block_of) | a.keys() | b.keys():
        call = calls[i]
        g1, g2 = call.alleles[0], call.alleles[-1]
        ref = frozenset({refs[i]})
        allowed_a, allowed_b = a.get(i, ref), b.get(i, ref)
        straight = g1 in allowed_a and g2 in allowed_b
        flipped = g2 in allowed_a and g1 in allowed_b
        if i not in block_of:
            if not (straight or flipped):
                return False
            continue
        options = {o for o, ok in ((False, straight), (True, flipped)) if ok}
        block = block_of[i]
        orientations[block] = orientations.get(block, {False, True}) & options
        if not orientations[block]:
            return False
    return True


def _prioritise(definition: dict[str, Any], diplotypes: list[str]) -> list[str]:
    """NAT2-style tie-breaks (``unphasedDiplotypePriorities``) from the exemptions file."""
    for rule in definition.get("unphased_priorities", []):
        if set(rule["list"]) == set(diplotypes):
            return [rule["pick"]]
    return diplotypes
