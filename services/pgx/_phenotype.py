"""Diplotype -> phenotype, activity score and recommendation lookup key, from the kb tables.

When several diplotypes remain (unphased ties), the phenotype is reported only if every candidate gives
the same one; otherwise the result is ``Indeterminate`` with no lookup key, and the candidates stay in
``GeneResult.diplotypes`` so a card can list them. Nothing is guessed: a diplotype the tables do not
know gives no phenotype and a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.pgx import _kb

INDETERMINATE = "Indeterminate"
# Genes whose CPIC phenotype comes from the two lowest-function alleles (see _lowest.py).
LOWEST_FUNCTION_GENES = frozenset({"DPYD", "RYR1"})


@dataclass
class Phenotype:
    phenotype: str | None = None
    activity_score: str | None = None
    lookup_key: str | None = None
    warnings: list[str] = field(default_factory=list)


def split_diplotype(diplotype: str) -> list[str]:
    """The haplotypes of ``a/b`` (or a single haplotype for hemizygous genes), brackets respected.

    >>> split_diplotype("*1/*2")
    ['*1', '*2']
    >>> split_diplotype("Reference/[c.97A>G + c.418G>A]")
    ['Reference', '[c.97A>G + c.418G>A]']
    """
    depth = 0
    for i, ch in enumerate(diplotype):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "/" and depth == 0:
            return [diplotype[:i].strip(), diplotype[i + 1 :].strip()]
    return [diplotype.strip()]


def lookup_row(gene: str, diplotype: str) -> list[str | None] | None:
    """[phenotype, activity score, lookup key] for one diplotype, in either allele order."""
    table = _kb.phenotype_table(gene)
    if table is None:
        return None
    rows: dict[str, list[str | None]] = table["diplotypes"]
    if diplotype in rows:
        return rows[diplotype]
    parts = split_diplotype(diplotype)
    if len(parts) == 2:
        swapped = f"{parts[1]}/{parts[0]}"
        if swapped in rows:
            return rows[swapped]
    return None


def known_allele(gene: str, allele: str) -> bool:
    table = _kb.phenotype_table(gene)
    return table is not None and allele in table["alleles"]


def allele_activity(gene: str, allele: str) -> float | None:
    table = _kb.phenotype_table(gene)
    if table is None or allele not in table["alleles"]:
        return None
    value = table["alleles"][allele].get("activity")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def allele_function(gene: str, allele: str) -> str | None:
    table = _kb.phenotype_table(gene)
    if table is None or allele not in table["alleles"]:
        return None
    function: str | None = table["alleles"][allele].get("function")
    return function


def phenotype_of(gene: str, diplotypes: list[str]) -> Phenotype:
    """Phenotype for the candidate diplotypes of one gene (agreeing candidates only)."""
    if not diplotypes:
        return Phenotype()
    if _kb.phenotype_table(gene) is None:
        # CYP4F2: CPIC defines no phenotypes; its guidance (warfarin) reads the diplotype itself
        return Phenotype(warnings=[f"{gene}: CPIC defines no phenotype for this gene; the diplotype is used as called"])
    rows = []
    for diplotype in diplotypes:
        row = lookup_row(gene, diplotype)
        if row is None:
            return Phenotype(warnings=[f"{gene}: no phenotype defined for diplotype {diplotype!r}; not interpreted"])
        rows.append(row)
    phenotypes = {r[0] for r in rows}
    keys = {r[2] for r in rows}
    if len(phenotypes) == 1 and len(keys) == 1:
        scores = {r[1] for r in rows}
        return Phenotype(
            phenotype=rows[0][0],
            activity_score=rows[0][1] if len(scores) == 1 else None,
            lookup_key=rows[0][2],
        )
    return Phenotype(
        phenotype=INDETERMINATE,
        warnings=[f"{gene}: {len(diplotypes)} equally likely diplotypes with different phenotypes"],
    )
