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
from services.pgx._phenotype import Phenotype, allele_activity, allele_function, lookup_row
from services.pgx._vcf import SiteCall

HETEROZYGOUS_DISPLAY = frozenset({"RYR1", "CACNA1S"})


def _variant_constraints(allele: Allele, reference: dict[int, str]) -> set[tuple[int, str]]:
    return {(i, next(iter(allowed))) for i, allowed in allele.constraints if reference.get(i) not in allowed}


def _found(alleles: list[Allele], strand_sets: list[dict[int, set[str]]], reference: dict[int, str]) -> list[Allele]:
    """Non-reference alleles whose variant bases are all present, minus those contained in another."""
    hits = []
    for a in alleles:
        if a.reference:
            continue
        variant = _variant_constraints(a, reference)
        if not variant:
            continue
        if all(any(strand.get(i, set()) & allowed for strand in strand_sets) for i, allowed in a.constraints):
            hits.append((a, variant))
    keep = [a for a, v in hits if not any(v < other for _, other in hits)]
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
    usable = prepare(gene, definition, calls, match)
    if not usable:
        match.called = False
        match.warnings.append("no genotype at any defining position")
        return match, []
    alleles = named_alleles(definition, set(usable))
    reference = {i: definition["variants"][i]["ref"] for i in usable}
    blocks = phase_blocks(usable)
    if len(blocks) <= 1:
        strands = [{i: c.alleles[0] for i, c in usable.items()}, {i: c.alleles[-1] for i, c in usable.items()}]
        found = [_found(alleles, [{i: {a} for i, a in s.items()}], reference) for s in strands]
        names = [_strand_name(f) for f in found]
        if gene in HETEROZYGOUS_DISPLAY and names.count("Reference") == 1:
            match.diplotypes = [f"{next(n for n in names if n != 'Reference')} (heterozygous)"]
        else:
            match.diplotypes = [order_pair(names[0], names[1])]
        return match, [[a.name for a in f] for f in found]
    both = {i: set(c.alleles) for i, c in usable.items()}
    found_all = _found(alleles, [both], reference)
    listed: list[str] = []
    groups: list[list[str]] = []
    for a in found_all:
        homozygous = all(
            all(x in allowed for x in usable[i].alleles) for i, allowed in a.constraints if i in usable
        ) and bool(_variant_constraints(a, reference))
        listed.append(f"{a.name} (homozygous)" if homozygous else a.name)
        groups.extend([[a.name]] * (2 if homozygous else 1))
    match.diplotypes = listed
    match.warnings.append("unphased: variants listed; phenotype from the two lowest-function alleles")
    return match, groups


def lowest_phenotype(gene: str, groups: list[list[str]]) -> Phenotype:
    """Phenotype from the two lowest-function alleles (per strand: its lowest-function component)."""
    if not groups:
        return Phenotype()
    reps = [_lowest(gene, g) for g in groups if g]
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


def _lowest(gene: str, names: list[str]) -> str:
    return min(names, key=lambda n: _rank(gene, n)) if names else "Reference"
