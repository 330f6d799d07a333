"""order-select for simvastatin and an SLCO1B1 decreased-function twin: the card offers derived statins.

CPIC (SLCO1B1, ABCG2, CYP2C9 and statins, PMID:35152405) says "Prescribe an alternative statin depending on
the desired potency" and names none in its table; services.pgx derives rosuvastatin, fluvastatin and
pravastatin (standard dosing for this genotype under the same guideline) and marks them derived.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.common.codes import RXNORM
from services.common.twin import Twin

from .conftest import Key, gene
from .test_cards import SELECT, SERVER, cards_of, hook, med

REASON = "alternative derived: standard dosing for this genotype under the same CPIC guideline (PMID:35152405)"
DERIVED = {"rosuvastatin": "301542", "fluvastatin": "41127", "pravastatin": "42463"}


def _simvastatin_card(client: TestClient, key: Key, seed: Callable[..., Twin], patient: str) -> dict[str, Any]:
    seed(
        SERVER,
        patient,
        gene("SLCO1B1", "*1/*5", "Decreased Function", obs="gt-slco1b1"),
        gene("ABCG2", "rs2231142 reference (G)/rs2231142 reference (G)", "Normal Function", obs="gt-abcg2"),
        gene("CYP2C9", "*1/*1", "Normal Metabolizer", obs="gt-cyp2c9", activity="2.0"),
    )
    draft = med(
        "rx-simva", text="simvastatin 40 MG Oral Tablet", intent="order", subject={"reference": f"Patient/{patient}"}
    )
    client.headers.update(key.bearer(SELECT))  # a real sandbox-issuer JWT: auth is on in this app
    (card,) = cards_of(client, SELECT, hook("order-select", patient, draft))
    return card


def _creates(suggestion: dict[str, Any]) -> list[str]:
    """RxNorm codes of the orders a suggestion creates."""
    return [
        coding["code"]
        for action in suggestion["actions"]
        if action["type"] == "create"
        for coding in action["resource"]["medicationCodeableConcept"].get("coding", [])
        if coding["system"] == RXNORM
    ]


def test_card_replaces_simvastatin_by_a_derived_statin(
    client: TestClient, sandbox_key: Key, seed: Callable[..., Twin]
) -> None:
    card = _simvastatin_card(client, sandbox_key, seed, "slco-df-1")
    assert card["indicator"] == "warning"
    # the summary names only alternatives the guideline names; derived ones are in the detail and suggestions
    assert card["summary"] == "Simvastatin: use an alternative (SLCO1B1 Decreased Function)"
    by_label = {s["label"]: s for s in card["suggestions"]}
    rosuvastatin = by_label["Replace Simvastatin with rosuvastatin (alternative derived by twinrx)"]
    assert _creates(rosuvastatin) == ["301542"]
    delete = next(a for a in rosuvastatin["actions"] if a["type"] == "delete")
    assert delete["resourceId"] == "MedicationRequest/rx-simva"
    created = {code for s in card["suggestions"] for code in _creates(s)}
    assert created == set(DERIVED.values())  # atorvastatin (<=40 mg) and pitavastatin (<=2 mg) are not offered
    # the card still cites simvastatin's own CPIC guideline and the statin paper
    assert card["source"]["url"] == "https://www.pharmgkb.org/guidelineAnnotation/PA166105005"
    assert "PMID:35152405" in card["detail"]
    assert "Prescribe an alternative statin depending on the desired potency" in card["detail"]


def test_card_says_why_and_does_not_preselect_a_derived_statin(
    client: TestClient, sandbox_key: Key, seed: Callable[..., Twin]
) -> None:
    card = _simvastatin_card(client, sandbox_key, seed, "slco-df-2")
    assert REASON in card["detail"]
    assert "Alternatives named by the guideline" not in card["detail"]
    # CPIC says "prescribe an alternative statin ... if simvastatin therapy is warranted, limit dose to
    # <20mg/day": cancelling, a lower dose or which statin instead stays the prescriber's choice
    assert not any(s.get("isRecommended") for s in card["suggestions"])
    assert card["suggestions"][0]["label"] == "Cancel the Simvastatin order"
    # the calls the derived statins rest on are shown in the genotype table, not only named in prose
    assert "| ABCG2 |" in card["detail"] and "| CYP2C9 | *1/*1 | Normal Metabolizer |" in card["detail"]
    derived = [s for s in card["suggestions"] if _creates(s)]
    assert sorted(code for s in derived for code in _creates(s)) == sorted(DERIVED.values())
