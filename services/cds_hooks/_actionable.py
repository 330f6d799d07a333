"""Which gene results change prescribing: the drugs whose guideline gives an actionable recommendation.

A phenotype is "actionable" when, for at least one drug with guidance on that gene, ``pgx.recommend``
returns an actionable recommendation resting on that gene that changes the order (avoid, alternative,
dose change; algorithm dosing or "see guideline" only when the phenotype deviates from the reference).
Answers are cached per (gene, call) in the process: the knowledge base is fixed for its lifetime.
"""

from __future__ import annotations

import threading
from typing import Final

from services.common.errors import TwinRxError
from services.common.logging import get_logger
from services.common.twin import GeneResult

from ._engines import Engines

log = get_logger(__name__)

_CACHE_MAX: Final = 4096
# Phenotype texts that mean "no deviation" although they do not contain the word "normal". CFTR's
# reference sequence reads "ivacaftor non-responsive in CF patients": it is everyone's baseline, so the
# chart summary must not list it as actionable (an ivacaftor order still gets its own card).
_NORMAL_EQUIVALENTS: Final = frozenset({"-1639 gg", "extensive metabolizer", "ivacaftor non-responsive in cf patients"})
_CHANGES: Final = frozenset({"avoid", "use-alternative", "reduce-dose", "increase-dose", "adjust-dose"})
_CHANGES_IF_DEVIATING: Final = frozenset({"see-dosing-algorithm", "see-guideline"})


def deviates(result: GeneResult) -> bool:
    """True if the gene's phenotype departs from the reference (used for algorithm-dosed drugs)."""
    phenotype = (result.phenotype or "").strip().lower()
    if not phenotype or "indeterminate" in phenotype or "normal" in phenotype:
        return False
    return phenotype not in _NORMAL_EQUIVALENTS


class ActionableIndex:
    """gene -> drugs with guidance (built once), and per gene result the drugs it changes (cached)."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self._gene_drugs = self._build()
        self._cache: dict[tuple[object, ...], list[str]] = {}
        self._lock = threading.Lock()

    def _build(self) -> dict[str, list[str]]:
        engines = self._engines
        out: dict[str, set[str]] = {}
        try:
            for drug in engines.drugs_with_guidance():
                for gene in engines.genes_for_drug(drug):
                    out.setdefault(gene, set()).add(drug.name)
        except TwinRxError as exc:
            log.warning("gene_drug_map_failed", error=exc.__class__.__name__)
        return {gene: sorted(drugs) for gene, drugs in out.items()}

    def drugs_with_guidance(self, gene: str) -> list[str]:
        return self._gene_drugs.get(gene, [])

    @staticmethod
    def _changes(action: str, status: str, result: GeneResult) -> bool:
        if status != "actionable":
            return False
        return action in _CHANGES or (action in _CHANGES_IF_DEVIATING and deviates(result))

    def drugs_changed_by(self, result: GeneResult) -> list[str]:
        """Drugs whose recommendation for this gene result alone is actionable (sorted).

        A phenotype at the population baseline changes nothing, whatever a guideline row says for it.
        """
        if not deviates(result):
            return []
        key = (result.gene, tuple(result.diplotypes), result.phenotype, result.activity_score, result.lookup_key)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        drugs: list[str] = []
        for drug in self._gene_drugs.get(result.gene, []):
            try:
                guidance = self._engines.recommend(drug, {result.gene: result})
            except TwinRxError:
                continue
            if any(
                self._changes(r.action, r.status, result) and result.gene in r.genes for r in guidance.recommendations
            ):
                drugs.append(drug)
        with self._lock:
            if len(self._cache) < _CACHE_MAX:
                self._cache[key] = drugs
        return drugs
