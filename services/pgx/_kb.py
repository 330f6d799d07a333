"""Read-only access to the generated knowledge base in ``services/pgx/kb`` (built by scripts/build_kb.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

KB_DIR = Path(__file__).resolve().parent / "kb"


def _load(relative: str) -> Any:
    return json.loads((KB_DIR / relative).read_text(encoding="utf-8"))


@cache
def meta() -> dict[str, Any]:
    """Sources, commits, versions and counts of the kb."""
    data: dict[str, Any] = _load("meta.json")
    return data


@cache
def callable_genes() -> tuple[str, ...]:
    """Genes with allele definitions (called from VCF)."""
    return tuple(sorted(p.stem for p in (KB_DIR / "alleles").glob("*.json")))


@cache
def definition(gene: str) -> dict[str, Any]:
    """Allele definition of one VCF-callable gene."""
    data: dict[str, Any] = _load(f"alleles/{gene}.json")
    return data


@cache
def phenotype_genes() -> tuple[str, ...]:
    return tuple(sorted(p.stem.replace("_", "-") for p in (KB_DIR / "phenotypes").glob("*.json")))


@cache
def phenotype_table(gene: str) -> dict[str, Any] | None:
    """Allele functions and the diplotype -> [phenotype, activity score, lookup key] table, or None."""
    path = KB_DIR / "phenotypes" / f"{gene.replace('-', '_')}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def guidelines() -> tuple[dict[str, Any], ...]:
    return tuple(_load("guidelines.json"))


@cache
def drugs() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = _load("drugs.json")
    return data


@cache
def products() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = _load("rxnorm_products.json")
    return data


@cache
def messages() -> tuple[dict[str, Any], ...]:
    """PharmCAT's ambiguity message rules (gene, diplotypes, variants, message)."""
    return tuple(_load("messages.json"))
