"""order-select / order-sign: draft medication orders + the twin's PGx profile -> cards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from services.common.errors import TwinRxError
from services.common.logging import get_logger, patient_ref
from services.pgx.models import Drug, DrugGuidance, Recommendation

from ._cardcache import CardCache
from ._cards import (
    group_recommendations,
    indeterminate_card,
    recommendation_card,
    testing_card,
    uninterpretable_card,
)
from ._engines import Engines
from ._models import Card
from ._orders import DraftMedication
from ._twin import TwinData

log = get_logger(__name__)


@dataclass
class ResolvedOrder:
    draft: DraftMedication
    drug: Drug
    query: str


def resolve_orders(drafts: list[DraftMedication], engines: Engines) -> list[ResolvedOrder]:
    """Each draft's drug, by the first of its codes/names the knowledge base knows; unknown drugs drop out."""
    out: list[ResolvedOrder] = []
    for draft in drafts:
        for query in draft.queries:
            drug = engines.resolve_drug(query)
            if drug is not None:
                out.append(ResolvedOrder(draft, drug, drug.rxnorm or drug.name))
                break
    return out


class TestingWindow:
    """Shows a 'genotype unknown, consider testing' card once per patient and drug per window."""

    def __init__(self, client: redis.Redis[bytes], hours: int) -> None:
        self._redis = client
        self._seconds = hours * 3600

    def first_time(self, server: str, patient_id: str, drug: str) -> bool:
        if self._seconds <= 0:
            return True
        key = f"twinrx:cds:testing-shown:{patient_ref(server, patient_id)}:{drug.lower()}"
        return bool(self._redis.set(key, "1", nx=True, ex=self._seconds))


def _preferred(recs: list[Recommendation]) -> list[Recommendation]:
    """CPIC first; a DPWG recommendation only for genes no CPIC recommendation covers."""
    covered = {g for r in recs if r.source == "CPIC" for g in r.genes}
    return [r for r in recs if r.source == "CPIC" or not set(r.genes) <= covered]


def cards_for_order(
    order: ResolvedOrder,
    guidance: DrugGuidance,
    *,
    patient_id: str,
    testing_ok: Callable[[str], bool],
    genes_for_drug: Callable[[Drug], list[str]],
    cache: CardCache | None = None,
) -> list[Card]:
    """Cards for one draft order from the recommender's answer.

    The recommendation and indeterminate cards depend only on the answer, the draft and the patient,
    and come from ``cache`` when given; the testing card (its window is state in Redis) never does.
    """
    drug = guidance.drug or order.drug
    label = order.draft.label
    recs = _preferred(guidance.recommendations)

    def compose() -> list[Card]:
        out = [
            recommendation_card(group, order.draft, patient_id)
            for group in group_recommendations([r for r in recs if r.status == "actionable"])
        ]
        for group in group_recommendations([r for r in recs if r.status == "indeterminate"]):
            out.append(indeterminate_card(group[0], label))
        return out

    cards = cache.cards(guidance, order.draft, patient_id, compose) if cache is not None else compose()
    unknown_genes: list[str] = []
    unknown_rec: Recommendation | None = None
    for rec in recs:
        if rec.status == "genotype-unknown":
            unknown_genes += [g for g in rec.genes if g not in unknown_genes]
            unknown_rec = unknown_rec or rec
    if guidance.status == "genotype-unknown" and not recs:
        unknown_genes = genes_for_drug(drug)
    on_file = [r for r in (unknown_rec.gene_results if unknown_rec else []) if r.diplotypes and not r.phenotype]
    if unknown_rec is not None and on_file and not cards:
        # tested, but the result could not be read: say so every time, never "no result, consider testing"
        cards.append(uninterpretable_card(drug, label, unknown_rec, on_file))
    elif (unknown_genes or guidance.status == "genotype-unknown") and not cards:
        name = drug.name
        if testing_ok(name):
            cards.append(testing_card(drug, label, unknown_genes, unknown_rec))
    return cards


def pgx_cards(
    orders: list[ResolvedOrder],
    data: TwinData,
    engines: Engines,
    *,
    server: str,
    patient_id: str,
    window: TestingWindow,
    correlation: str,
    cache: CardCache | None = None,
) -> list[Card]:
    """All cards for the resolved draft orders against the twin's PGx profile."""
    cards: list[Card] = []
    for order in orders:
        try:
            guidance = engines.recommend(order.query, data.twin.pgx)
        except TwinRxError as exc:  # one unusable order must not hide the cards of the others
            log.warning("recommend_failed", hookInstance=correlation, error=exc.__class__.__name__)
            continue
        cards += cards_for_order(
            order,
            guidance,
            patient_id=patient_id,
            testing_ok=lambda name: window.first_time(server, patient_id, name),
            genes_for_drug=engines.genes_for_drug,
            cache=cache,
        )
    return cards
