"""Rendered PGx cards per (recommender answer, draft order, patient), handed out with fresh uuids.

Why: composing a recommendation card (summary, markdown detail, suggestions with their FHIR resources)
was about a fifth of a warm hook call's CPU, and an EHR asks the same question again and again (each
order-select as the prescriber edits the order, then order-sign).

What makes a hit exact:

* the recommender's answer (``DrugGuidance``) is matched by identity. The memoized recommender
  (``._engines.memoized``) keys it by the drug and the exact JSON of each relevant gene result of the
  twin, so a twin whose genotype, phenotype or provenance changed gets a new answer object, hence a
  miss; the entry holds that object, so its ``id`` cannot be reused by another while the entry lives;
* the draft order by its whole content (resource, type, id, drug names), as canonical JSON (sorted
  keys), and the patient id: the suggestions embed both;
* only cards that depend on nothing else are cached: recommendation and indeterminate cards. The
  "genotype unknown, consider testing" card depends on a per-patient window in Redis and is never cached.

Every response gets new card and suggestion uuids (the feedback registry joins on them); everything
else is the cached card, copied shallowly (cards are never modified after they are built).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import orjson

from services.pgx.models import DrugGuidance

from ._models import Card
from ._orders import DraftMedication
from ._phrases import new_uuid

_MAX_KEY_BYTES: Final = 16 * 1024  # a larger draft order is composed every time rather than kept


def _draft_key(draft: DraftMedication, patient_id: str) -> bytes | None:
    try:
        key = orjson.dumps(
            [patient_id, draft.resource_type, draft.id, draft.queries, draft.resource], option=orjson.OPT_SORT_KEYS
        )
    except TypeError:  # not plain JSON (cannot come from a parsed request, but never guess)
        return None
    return key if len(key) <= _MAX_KEY_BYTES else None


def fresh(card: Card) -> Card:
    """``card`` with new uuids for itself and each suggestion."""
    suggestions = card.suggestions
    if suggestions:
        suggestions = [s.model_copy(update={"uuid": new_uuid() if s.uuid is not None else None}) for s in suggestions]
    return card.model_copy(update={"uuid": new_uuid() if card.uuid is not None else None, "suggestions": suggestions})


class CardCache:
    """Bounded LRU of composed cards (see the module doc); thread-safe."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[int, bytes], tuple[DrugGuidance, list[Card]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def cards(
        self,
        guidance: DrugGuidance,
        draft: DraftMedication,
        patient_id: str,
        compose: Callable[[], list[Card]],
    ) -> list[Card]:
        """The cards ``compose()`` gives for this answer, draft and patient, with fresh uuids."""
        draft_key = _draft_key(draft, patient_id)
        if draft_key is None or self._max <= 0:
            return compose()
        key = (id(guidance), draft_key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is guidance:
                self._entries.move_to_end(key)
                return [fresh(card) for card in entry[1]]
        cards = compose()
        with self._lock:
            self._entries[key] = (guidance, cards)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return [fresh(card) for card in cards]  # the kept ones are never handed out
