"""The library functions the hook service calls (pgx, risk, ingest), gathered behind one seam.

The service always uses the real functions; tests may pass an :class:`Engines` of their own to
``create_app`` only to inject faults. ``build_twin`` is looked up at start (``None`` while ingest is
not importable: the cold path then answers 503).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from services import pgx, risk
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
        resources: Sequence[Mapping[str, Any]],
        *,
        work_dir: Any = None,
        previous: Twin | None = None,
    ) -> BuildResultLike: ...


@dataclass(frozen=True)
class Engines:
    """Callables of the pure libraries, resolved once at app start."""

    recommend: RecommendFn | None
    resolve_drug: Callable[[str], Drug | None] | None
    drugs_with_guidance: Callable[[], list[Drug]] | None
    genes_for_drug: Callable[[Drug], list[str]] | None
    assess: Callable[[Twin], list[RiskResult]] | None
    what_if: Callable[[Twin, Mapping[str, float | bool | str]], list[risk.ScenarioDelta]] | None
    build_twin: BuildTwinFn | None


def _attr(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


def load_engines() -> Engines:
    """The real pgx, risk and ingest functions."""
    return Engines(
        recommend=pgx.recommend,
        resolve_drug=pgx.resolve_drug,
        drugs_with_guidance=pgx.drugs_with_guidance,
        genes_for_drug=pgx.genes_for_drug,
        assess=risk.assess,
        what_if=risk.what_if,
        build_twin=cast("BuildTwinFn | None", _attr("services.ingest", "build_twin")),
    )
