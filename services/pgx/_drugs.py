"""Drug resolution: RxNorm ingredient or clinical-drug code, ingredient name, brand or clinical-drug text."""

from __future__ import annotations

import difflib
import re
from functools import cache

from services.pgx import _kb
from services.pgx.models import Drug


@cache
def _by_rxcui() -> dict[str, str]:
    return {entry["rxnorm"]: name for name, entry in _kb.drugs().items() if entry.get("rxnorm")}


@cache
def _name_pattern() -> re.Pattern[str]:
    names = sorted(_kb.drugs(), key=len, reverse=True)
    return re.compile(r"(?<![a-z])(" + "|".join(re.escape(n) for n in names) + r")(?![a-z])")


def _drug(name: str) -> Drug:
    return Drug(name=name, rxnorm=_kb.drugs()[name].get("rxnorm"))


def _first_with_guidance(names: list[str]) -> Drug | None:
    for name in names:
        if name in _kb.drugs():
            return _drug(name)
    return None


def resolve_drug(text_or_code: str) -> Drug | None:
    """The kb ingredient for an RxNorm code (ingredient or sandbox clinical drug), a name or drug text.

    Returns None when nothing in the text or code is a drug with pharmacogenomic guidance.
    """
    query = text_or_code.strip()
    if not query:
        return None
    if query.isdigit():
        if query in _by_rxcui():
            return _drug(_by_rxcui()[query])
        return _first_with_guidance(_kb.products()["products"].get(query, []))
    lower = query.lower()
    if lower in _kb.drugs():
        return _drug(lower)
    found = [m.group(1) for m in _name_pattern().finditer(lower.split("[")[0])]
    if found:
        return _drug(found[0])
    brands = _kb.products()["brands"]
    brand = re.search(r"\[([^\]]+)\]", lower)
    for candidate in ([brand.group(1)] if brand else []) + [lower, lower.split(" ")[0]]:
        if candidate.strip() in brands:
            return _first_with_guidance(brands[candidate.strip()])
    return None


def ingredient_text(text: str) -> str | None:
    """Best-effort ingredient name of clinical-drug text without guidance ('lisinopril 10 MG Oral Tablet')."""
    m = re.match(r"^\s*([A-Za-z][A-Za-z ,/-]*?)\s+\d", text)
    if m:
        return m.group(1).strip().lower()
    return text.strip().lower() if text.strip() and not text.strip().isdigit() else None


def drugs_with_guidance() -> list[Drug]:
    """Every ingredient the kb holds a CPIC or DPWG guideline for, by name."""
    return [_drug(name) for name in sorted(_kb.drugs())]


def genes_for_drug(drug: Drug) -> list[str]:
    """Genes any guideline for ``drug`` depends on (empty when the drug has no guidance)."""
    entry = _kb.drugs().get(drug.name.lower())
    return list(entry["genes"]) if entry else []


@cache
def _known_names() -> tuple[str, ...]:
    """Every drug name the kb knows: guideline ingredients, brands and ingredients of its clinical drugs."""
    products = _kb.products()
    names = set(_kb.drugs()) | set(products["brands"])
    names.update(n for group in ("brands", "products") for v in products[group].values() for n in v)
    return tuple(sorted(names))


def close_drug_names(text: str, *, cutoff: float = 0.85) -> list[str]:
    """Known drug names within a small edit distance of ``text`` (a likely typo), best first; empty if none.

    The kb holds only drugs with pharmacogenomic guidance, so a name it does not know may be a real drug
    without guidance (amoxicillin) or a typo; only a near miss of a known name is taken for a typo.
    """
    name = ingredient_text(text)
    if not name or name in _known_names():
        return []
    return difflib.get_close_matches(name, _known_names(), n=3, cutoff=cutoff)
