"""The composed-card cache (services.cds_hooks._cardcache): same cards, fresh uuids, exact keys, bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.cds_hooks._cardcache import CardCache
from services.cds_hooks._models import Card, Source
from services.cds_hooks._orders import DraftMedication
from services.common.twin import Twin

from .conftest import gene
from .test_cards import SELECT, cards_of, hook, med


def _without_uuids(card: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in card.items() if k != "uuid"}
    if "suggestions" in out:
        out["suggestions"] = [{k: v for k, v in s.items() if k != "uuid"} for s in out["suggestions"]]
    return out


def _uuids(cards: list[dict[str, Any]]) -> set[str]:
    found = {c["uuid"] for c in cards}
    return found | {s["uuid"] for c in cards for s in c.get("suggestions", [])}


def test_a_repeated_call_gets_the_same_cards_with_fresh_uuids(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed("local:demo", "cc1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    body = hook("order-select", "cc1", med("m1", code="213169"))
    first, second = cards_of(dev_client, SELECT, body), cards_of(dev_client, SELECT, body)
    assert first and [_without_uuids(c) for c in first] == [_without_uuids(c) for c in second]
    assert any(c.get("suggestions") for c in first)  # suggestion uuids are checked too
    assert _uuids(first).isdisjoint(_uuids(second))
    assert len(_uuids(first)) == sum(1 + len(c.get("suggestions", [])) for c in first)  # none shared within


def test_a_changed_twin_gives_the_cards_of_the_new_genotype(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    body = hook("order-select", "cc2", med("m1", code="213169"))
    seed("local:demo", "cc2", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    (poor,) = cards_of(dev_client, SELECT, body)
    seed("local:demo", "cc2", gene("CYP2C19", "*1/*2", "Intermediate Metabolizer"))
    (intermediate,) = cards_of(dev_client, SELECT, body)
    assert "Poor Metabolizer" in poor["summary"] and "Intermediate Metabolizer" in intermediate["summary"]
    seed("local:demo", "cc2", gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="gt-2"))  # same call, new source
    (resourced,) = cards_of(dev_client, SELECT, body)
    assert "gt-2" in resourced["detail"] and "gt-2" not in poor["detail"]


def test_a_different_draft_order_or_patient_gives_its_own_cards(
    dev_client: TestClient, seed: Callable[..., Twin]
) -> None:
    for patient in ("cc3", "cc4"):
        seed("local:demo", patient, gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    (m1,) = cards_of(dev_client, SELECT, hook("order-select", "cc3", med("m1", code="213169")))
    (m2,) = cards_of(dev_client, SELECT, hook("order-select", "cc3", med("m2", code="213169")))
    (other,) = cards_of(dev_client, SELECT, hook("order-select", "cc4", med("m1", code="213169")))

    def targets(card: dict[str, Any]) -> set[str]:
        return {a.get("resourceId", "") for s in card.get("suggestions", []) for a in s.get("actions", [])}

    assert "MedicationRequest/m1" in targets(m1) and "MedicationRequest/m2" in targets(m2)
    assert "MedicationRequest/m1" not in targets(m2)

    def subjects(card: dict[str, Any]) -> set[str]:
        found = set()
        for s in card.get("suggestions", []):
            for a in s.get("actions", []):
                found.add(str((a.get("resource") or {}).get("subject", {}).get("reference")))
        return found - {"None"}

    assert subjects(m1) <= {"Patient/cc3"} and subjects(other) <= {"Patient/cc4"}


def _card(summary: str) -> Card:
    return Card(uuid="u", summary=summary, indicator="info", source=Source(label="x"))


def test_card_cache_matches_the_answer_by_identity_and_stays_bounded() -> None:
    cache = CardCache(max_entries=2)
    answer: Any = object()
    composed: list[str] = []

    def compose(name: str) -> Callable[[], list[Card]]:
        def run() -> list[Card]:
            composed.append(name)
            return [_card(name)]

        return run

    drafts = [
        DraftMedication(resource={"id": f"m{i}"}, resource_type="MedicationRequest", id=f"m{i}") for i in range(3)
    ]
    first = cache.cards(answer, drafts[0], "p", compose("a"))
    again = cache.cards(answer, drafts[0], "p", compose("b"))
    assert composed == ["a"] and again[0].summary == "a" and again[0].uuid not in (first[0].uuid, "u")
    cache.cards(answer, drafts[0], "other-patient", compose("c"))
    cache.cards(object(), drafts[0], "p", compose("d"))  # an equal-looking but different answer
    assert composed == ["a", "c", "d"] and len(cache) == 2
    cache.cards(answer, drafts[1], "p", compose("e"))
    cache.cards(answer, drafts[2], "p", compose("f"))
    assert len(cache) == 2
