"""DPYD, RYR1 and CACNA1S: PharmCAT's lowest-function handling.

- Phased (or effectively phased: at most one heterozygous position): each strand is named by the
  variant alleles found on it: ``Reference``, one allele, or a combination ``[a + b]``.
- Unphased with several heterozygous positions: no diplotype; the result lists the variant alleles found
  (``c.97A>G (homozygous)`` when on both strands), and the phenotype comes from the two lowest-function
  alleles (DPYD activity score = sum of the two lowest activity values).
An allele whose definition is contained in another found allele (the intronic HapB3 variant inside HapB3)
is not listed separately.
"""

from __future__ import annotations

from typing import Any

from services.pgx._matcher import Allele, Match, named_alleles, natural_key, order_pair, phase_blocks, prepare
from services.pgx._phenotype import (
    Phenotype,
    allele_activity,
    allele_function,
    known_allele,
    lookup_row,
    split_diplotype,
)
from services.pgx._vcf import SiteCall

HETEROZYGOUS_DISPLAY = frozenset({"RYR1", "CACNA1S"})
COMBINATION_GENES = frozenset({"DPYD", "RYR1"})


def _observed(
    allele: Allele, strands: list[dict[int, str | None]], reference: dict[int, str]
) -> tuple[frozenset[tuple[int, str]], int] | None:
    """(variant bases seen, defining positions unobserved) if ``allele`` fits the strands, else None."""
    variant: set[tuple[int, str]] = set()
    unobserved = 0
    for i, allowed in allele.constraints:
        seen = {a for s in strands if (a := s.get(i)) is not None}
        if not seen:
            unobserved += 1
            continue
        hit = seen & allowed
        if not hit:
            return None
        if reference.get(i) not in allowed:
            variant.add((i, next(iter(hit))))
    if not variant:
        return None
    return frozenset(variant), unobserved


def _found(alleles: list[Allele], strands: list[dict[int, str | None]], reference: dict[int, str]) -> list[Allele]:
    """Variant alleles that fit, minus those contained in another (equal ones: the fully observed wins)."""
    hits = []
    for a in alleles:
        if a.reference:
            continue
        seen = _observed(a, strands, reference)
        if seen is not None:
            hits.append((a, seen[0], seen[1]))
    keep = []
    for a, variant, unobserved in hits:
        if any(variant < other for _, other, _ in hits):
            continue
        if any(variant == other and u < unobserved for _, other, u in hits):
            continue
        keep.append(a)
    return sorted(keep, key=lambda a: natural_key(a.name))


def _strand_name(found: list[Allele]) -> str:
    if not found:
        return "Reference"
    if len(found) == 1:
        return found[0].name
    return "[" + " + ".join(a.name for a in found) + "]"


def match_lowest(gene: str, definition: dict[str, Any], calls: dict[int, SiteCall]) -> tuple[Match, list[list[str]]]:
    """The match and, per strand or listed variant, the allele names (for the phenotype)."""
    match = Match()
    usable = prepare(gene, definition, calls, match, keep_partial=True)
    if not usable:
        match.called = False
        match.warnings.append("no genotype at any defining position")
        return match, []
    alleles = named_alleles(definition, set(usable), blanks_are_reference=False)
    reference = {i: definition["variants"][i]["ref"] for i in usable}
    blocks = phase_blocks(usable)
    if len(blocks) <= 1:
        strands = [{i: c.alleles[0] for i, c in usable.items()}, {i: c.alleles[-1] for i, c in usable.items()}]
        found = [_found(alleles, [s], reference) for s in strands]
        names = [_strand_name(f) for f in found]
        _hapb3_warning(definition, strands, found, match)
        match.diplotypes = [order_pair(names[0], names[1])]
        if gene in HETEROZYGOUS_DISPLAY:
            match.diplotypes = [heterozygous_display(d) for d in match.diplotypes]
        return match, [[a.name for a in f] for f in found]
    found_all = _found(alleles, [dict(enumerate_strand(usable, 0)), dict(enumerate_strand(usable, 1))], reference)
    listed: list[str] = []
    groups: list[list[str]] = []
    for a in found_all:
        homozygous = all(
            all(x in allowed for x in usable[i].alleles)
            for i, allowed in a.constraints
            if i in usable and reference.get(i) not in allowed
        )
        listed.append(f"{a.name} (homozygous)" if homozygous else a.name)
        groups.extend([[a.name]] * (2 if homozygous else 1))
    match.diplotypes = listed
    match.warnings.append("unphased: variants listed; phenotype from the two lowest-function alleles")
    return match, groups


HAPB3_INTRONIC = "rs75017182"


def _hapb3_warning(
    definition: dict[str, Any], strands: list[dict[int, str | None]], found: list[list[Allele]], match: Match
) -> None:
    """DPYD HapB3 called without its intronic tag SNP (PharmCAT falls back to exonic rs56038477 and warns)."""
    index = next((i for i, v in enumerate(definition["variants"]) if v["rsid"] == HAPB3_INTRONIC), None)
    if index is None:
        return
    for strand, alleles in zip(strands, found, strict=True):
        if any("HapB3" in a.name for a in alleles) and strand.get(index) is None:
            match.warnings.append("HapB3 called from exonic rs56038477: intronic rs75017182 is missing")
            return


def heterozygous_display(diplotype: str) -> str:
    """RYR1/CACNA1S show ``Reference/X`` as ``X (heterozygous)`` (PharmCAT's display form)."""
    parts = split_diplotype(diplotype)
    if len(parts) == 2 and parts.count("Reference") == 1:
        return f"{parts[0] if parts[1] == 'Reference' else parts[1]} (heterozygous)"
    return diplotype


def enumerate_strand(calls: dict[int, SiteCall], strand: int) -> list[tuple[int, str | None]]:
    return [(i, c.alleles[strand] if len(c.alleles) > strand else c.alleles[0]) for i, c in calls.items()]


def lowest_phenotype(gene: str, groups: list[list[str]]) -> Phenotype:
    """Phenotype from the two lowest-function alleles (per strand: its lowest-function component).

    An allele the phenotype table does not know can be ignored only when a known allele on the same strand
    already has the lowest possible function (no activity / MH-associated); otherwise nothing is inferred.
    """
    if not groups:
        return Phenotype()
    reps: list[str] = []
    for group in (g for g in groups if g):
        known = [n for n in group if known_allele(gene, n)]
        unknown = [n for n in group if not known_allele(gene, n)]
        best = min(known, key=lambda n: _rank(gene, n)) if known else None
        if unknown and (best is None or _rank(gene, best) > 0.0):
            return Phenotype(
                warnings=[f"{gene}: no function known for {', '.join(unknown)}; phenotype not interpreted"]
            )
        reps.append(best or "Reference")
    reps += ["Reference"] * max(0, 2 - len(reps))
    reps = sorted(reps, key=lambda n: _rank(gene, n))[:2]
    row = lookup_row(gene, f"{reps[0]}/{reps[1]}")
    if row is None:
        return Phenotype(warnings=[f"{gene}: no phenotype for the lowest-function alleles; not interpreted"])
    return Phenotype(phenotype=row[0], activity_score=row[1], lookup_key=row[2])


def _rank(gene: str, name: str) -> float:
    activity = allele_activity(gene, name)
    if activity is not None:
        return activity
    function = (allele_function(gene, name) or "").lower()
    if "malignant hyperthermia" in function:
        return 0.0
    return 1.0 if name == "Reference" or "normal" in function else 0.5
