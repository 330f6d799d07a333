"""The library functions the hook service calls (pgx, risk, ingest), gathered behind one seam.

The service always uses the real functions; tests may pass an :class:`Engines` of their own to
``create_app`` only to inject faults (a function that raises).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, cast

from services import ingest, pgx, risk
from services.common.twin import GeneResult, RiskResult, Twin
from services.pgx.models import Drug, DrugGuidance


class RecommendFn(Protocol):
    def __call__(self, drug: str, profile: Mapping[str, GeneResult]) -> DrugGuidance: ...


class BuildResultLike(Protocol):
    @property
    def twin(self) -> Twin: ...


class BuildTwinFn(Protocol):
    def __call__(
        self,
        server: str,
        patient_id: str,
        resources: Iterable[dict[str, object]],
        *,
        work_dir: Path | None = None,
        previous: Twin | None = None,
    ) -> BuildResultLike: ...


@dataclass(frozen=True)
class Engines:
    """Callables of the pure libraries, resolved once at app start."""

    recommend: RecommendFn
    resolve_drug: Callable[[str], Drug | None]
    drugs_with_guidance: Callable[[], list[Drug]]
    genes_for_drug: Callable[[Drug], list[str]]
    assess: Callable[[Twin], list[RiskResult]]
    what_if: Callable[[Twin, Mapping[str, float | bool | str]], list[risk.ScenarioDelta]]
    build_twin: BuildTwinFn


def load_engines() -> Engines:
    """The real pgx, risk and ingest functions."""
    return Engines(
        recommend=pgx.recommend,
        resolve_drug=pgx.resolve_drug,
        drugs_with_guidance=pgx.drugs_with_guidance,
        genes_for_drug=pgx.genes_for_drug,
        assess=risk.assess,
        what_if=risk.what_if,
        build_twin=ingest.build_twin,
    )


class _Memo:
    """A bounded, thread-safe memo (the knowledge base is fixed for the life of the process)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return True, self._data[key]
        return False, None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            if len(self._data) > self._size:
                self._data.popitem(last=False)


def memoized(engines: Engines, size: int = 4096) -> Engines:
    """``engines`` with ``resolve_drug``, ``genes_for_drug`` and ``recommend`` memoized.

    ``recommend`` is keyed by the resolved drug and the full gene results (calls *and* provenance) of the
    genes that drug's guidance depends on, so a cached answer is exactly what a fresh call would return.
    """
    resolve, genes_of, recommend = engines.resolve_drug, engines.genes_for_drug, engines.recommend
    drugs, genes, answers = _Memo(size), _Memo(size), _Memo(size)

    def resolve_drug(query: str) -> Drug | None:
        hit, value = drugs.get(query)
        if not hit:
            value = resolve(query)
            drugs.put(query, value)
        return cast("Drug | None", value)

    def genes_for_drug(drug: Drug) -> list[str]:
        hit, value = genes.get(drug.name)
        if not hit:
            value = genes_of(drug)
            genes.put(drug.name, value)
        return list(value)

    def cached_recommend(drug: str, profile: Mapping[str, GeneResult]) -> DrugGuidance:
        drug_query = drug
        resolved = resolve_drug(drug_query)
        if resolved is None:
            return recommend(drug_query, profile)
        relevant = tuple(
            (gene, profile[gene].model_dump_json() if gene in profile else None) for gene in genes_for_drug(resolved)
        )
        key = (drug_query, relevant)
        hit, value = answers.get(key)
        if not hit:
            value = recommend(drug_query, profile)
            answers.put(key, value)
        return cast("DrugGuidance", value)

    return replace(engines, resolve_drug=resolve_drug, genes_for_drug=genes_for_drug, recommend=cached_recommend)
