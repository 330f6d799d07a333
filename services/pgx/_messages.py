"""PharmCAT's ambiguity messages, attached to a gene call when their conditions hold.

A rule names a gene and any of: called diplotypes (these only apply to unphased data, "cannot be ruled
out without phased data"), called haplotypes, variants that must be missing, and variants the sample must
carry. Every condition given must hold. The message text is PharmCAT's (kb ``messages.json``).
"""

from __future__ import annotations

from typing import Any

from services.common.twin import GeneResult
from services.pgx import _kb
from services.pgx._matcher import phase_blocks
from services.pgx._phenotype import split_diplotype
from services.pgx._vcf import SiteCall


def _same(a: str, b: str) -> bool:
    return sorted(split_diplotype(a)) == sorted(split_diplotype(b))


def ambiguity_messages(result: GeneResult, calls: dict[int, SiteCall], definition: dict[str, Any]) -> list[str]:
    """Messages whose conditions match this VCF call."""
    rules = [r for r in _kb.messages() if r["gene"] == result.gene]
    if not rules or not result.diplotypes:
        return []
    index = {v["rsid"]: i for i, v in enumerate(definition["variants"]) if v["rsid"]}
    refs = [v["ref"] for v in definition["variants"]]
    unphased = len(phase_blocks(calls)) > 1
    haplotypes = {h for d in result.diplotypes for h in split_diplotype(d)}
    out = []
    for rule in rules:
        checks: list[bool] = []
        if rule["diplotypes"]:
            checks.append(unphased and any(_same(d, r) for d in result.diplotypes for r in rule["diplotypes"]))
        if rule["haplotypes_called"]:
            wanted = {h.strip() for text in rule["haplotypes_called"] for h in text.split(";")}
            checks.append(bool(wanted & haplotypes))
        if rule["variants_missing"]:
            checks.append(all(v in result.missing_positions for v in rule["variants_missing"]))
        if rule["variants"]:
            carried = [
                v in index
                and index[v] in calls
                and any(a not in (None, refs[index[v]]) for a in calls[index[v]].alleles)
                for v in rule["variants"]
            ]
            checks.append(all(carried))
        if checks and all(checks):
            out.append(rule["message"])
    return out
