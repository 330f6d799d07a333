"""Matching one scoring-file variant to a VCF record by alleles (position is matched by the caller).

Rules, as pgscatalog-match applies them by default:

* the effect allele (and the other allele, when the file gives one) must be alleles of the record;
* otherwise the reverse complement is tried for SNPs (strand flip);
* strand-ambiguous SNPs (A/T, C/G) are excluded unless kept, and then matched without flipping;
* a record with several ALT alleles is excluded unless multi-allelic sites are kept, and then the
  effect allele's own copies are counted.

>>> match("G", "A", "A", ["G"], keep_ambiguous=False, keep_multiallelic=False)
Match(status='matched', allele=1, flipped=False, reason='effect allele = ALT')
>>> match("T", "G", "A", ["C"], keep_ambiguous=False, keep_multiallelic=False).reason
'strand flip; effect allele = REF'
>>> match("T", "A", "A", ["T"], keep_ambiguous=False, keep_multiallelic=False).status
'excluded'
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = ["Match", "match"]

_COMPLEMENT: Final = str.maketrans("ACGT", "TGCA")
_BASES: Final = frozenset("ACGT")
_COMPLEMENT_OF: Final = {"A": "T", "T": "A", "C": "G", "G": "C"}


class Match(NamedTuple):
    """Outcome for one score variant against one record; ``allele`` indexes REF (0) / ALTs (1..)."""

    status: Literal["matched", "excluded", "mismatch"]
    allele: int
    flipped: bool
    reason: str


def _snp(allele: str | None) -> bool:
    return allele is not None and len(allele) == 1 and allele in _BASES


def _ambiguous(effect: str, other: str | None, ref: str, alts: list[str]) -> bool:
    if _snp(effect) and _snp(other):
        return effect.translate(_COMPLEMENT) == other
    if other is None and len(alts) == 1 and _snp(ref) and _snp(alts[0]):
        return ref.translate(_COMPLEMENT) == alts[0]
    return False


def _find(effect: str, other: str | None, alleles: list[str]) -> int | None:
    if effect not in alleles:
        return None
    if other is not None and (other not in alleles or other == effect):
        return None
    return alleles.index(effect)


def match(
    effect: str, other: str | None, ref: str, alts: list[str], *, keep_ambiguous: bool, keep_multiallelic: bool
) -> Match:
    """How the variant (effect/other allele) relates to a record with ``ref`` and ``alts``."""
    if (
        len(alts) == 1
        and len(effect) == 1
        and other is not None
        and len(other) == 1
        and _COMPLEMENT_OF.get(effect) != other
    ):
        # The common case: a biallelic, non-ambiguous SNP on the same strand.
        if effect == alts[0] and other == ref:
            return _ALT
        if effect == ref and other == alts[0]:
            return _REF
    alleles = [ref, *alts]
    allele = _find(effect, other, alleles)
    flipped = False
    ambiguous = _ambiguous(effect, other, ref, alts)
    if allele is None and not ambiguous and _snp(effect) and (other is None or _snp(other)):
        allele = _find(effect.translate(_COMPLEMENT), other.translate(_COMPLEMENT) if other else None, alleles)
        flipped = allele is not None
    if allele is None:
        return Match("mismatch", -1, False, "alleles differ")
    if len(alts) > 1 and not keep_multiallelic:
        return Match("excluded", allele, flipped, "multiallelic")
    if ambiguous and not keep_ambiguous:
        return Match("excluded", allele, flipped, "ambiguous")
    which = "REF" if allele == 0 else ("ALT" if len(alts) == 1 else f"ALT{allele}")
    return Match("matched", allele, flipped, ("strand flip; " if flipped else "") + f"effect allele = {which}")


_ALT: Final = Match("matched", 1, False, "effect allele = ALT")
_REF: Final = Match("matched", 0, False, "effect allele = REF")
