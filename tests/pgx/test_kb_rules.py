"""The kb build's text -> action rules on real CPIC/DPWG recommendation texts (scripts/_kb_rules.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from _kb_rules import classify, dose_percent, find_alternatives  # noqa: E402


@pytest.mark.parametrize(
    ("text", "strength", "action", "percent"),
    [
        (
            "Avoid clopidogrel if possible. Use prasugrel or ticagrelor at standard dose if no contraindication.",
            "Strong",
            "use-alternative",
            None,
        ),
        (
            "Consider an alternative P2Y12 inhibitor at standard dose if clinically indicated and no contraindication.",
            "Moderate",
            "use-alternative",
            None,
        ),
        ("If considering clopidogrel, use at standard dose (75 mg/day)", "Strong", "standard", None),
        (
            "Reduce starting dose by 50% followed by titration of dose based on toxicity or therapeutic drug "
            "monitoring (if available).",
            "Strong",
            "reduce-dose",
            -50,
        ),
        (
            "Avoid use of 5-fluorouracil or 5-fluorouracil prodrug-based regimens. In the event, based on clinical "
            "advice, alternative agents are not considered a suitable therapeutic option, 5-fluorouracil should be "
            "administered at a strongly reduced dose with early therapeutic drug monitoring.",
            "Strong",
            "avoid",
            None,
        ),
        (
            "Prescribe an alternative statin depending on the desired potency (see Figure 1 of PMID: 35152405 for "
            "recommendations for alternative statins).",
            "Strong",
            "use-alternative",
            None,
        ),
        ("No recommendation", "No recommendation", "none", None),
        ("No reason to avoid based on G6PD status", "Strong", "standard", None),
        (
            "Avoid moderate and strong CYP2D6 inhibitors. Initiate therapy with recommended standard of care dosing "
            "(tamoxifen 20 mg/day).",
            "Strong",
            "standard",
            None,
        ),
        (
            "Consider a clinically appropriate antidepressant not predominantly metabolized by CYP2C19. If citalopram "
            "or escitalopram are clinically appropriate, consider a lower starting dose.",
            "Moderate",
            "use-alternative",
            None,
        ),
        (
            "use 65% of the standard initial dose. The genotype-specific initial dose and maintenance dose can be "
            "calculated using an algorithm.",
            None,
            "reduce-dose",
            -35,
        ),
        (
            "Initiate with a dose of 40 mg/day and if no clinical response and in the absence of adverse events after "
            "2 weeks increase dose to 80 mg/day. If unacceptable side effects are present at any time, consider a "
            "reduction in dose.",
            "Moderate",
            "see-guideline",
            None,
        ),
    ],
)
def test_classify(text: str, strength: str | None, action: str, percent: int | None) -> None:
    facts = classify(text, strength)
    assert (facts["action"], facts["dose_change_percent"]) == (action, percent)


def test_ranges_give_no_single_percent() -> None:
    assert dose_percent("Start with reduced starting doses (30%-80% of normal dose)") is None


def test_alternatives_only_from_curated_phrases() -> None:
    lamotrigine = (
        "Avoid lamotrigine if an alternative is available. Carbamazepine carries a much higher risk of SJS/TEN in "
        "these patients and is therefore not an alternative."
    )
    assert find_alternatives(lamotrigine, ["lamotrigine"]) == []
    assert find_alternatives(
        "Select alternative drug not predominantly metabolized by CYP2D6 (i.e., granisetron).", ["ondansetron"]
    ) == ["granisetron"]
