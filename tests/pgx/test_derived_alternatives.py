"""Derived alternatives: CPIC says "use an alternative" and names none (services/pgx/_alternatives.py).

Statin cases follow the CPIC guideline for SLCO1B1, ABCG2, CYP2C9 and statins (Cooper-DeHoff et al. 2022,
PMID:35152405); thiopurines the CPIC TPMT/NUDT15 guideline (Relling et al. 2019, PMID:30447069).
"""

from __future__ import annotations

import pytest

from services.common.twin import GeneResult
from services.pgx import _kb, outside_call, recommend
from services.pgx._alternatives import _is_standard
from services.pgx.models import Recommendation

ABCG2_NORMAL = "rs2231142 reference (G)/rs2231142 reference (G)"
ABCG2_POOR = "rs2231142 variant (T)/rs2231142 variant (T)"
STATINS = "PMID:35152405"


def _p(**calls: str) -> dict[str, GeneResult]:
    return {gene.replace("_", "-"): outside_call(gene.replace("_", "-"), d) for gene, d in calls.items()}


def _only(drug: str, profile: dict[str, GeneResult], population: str = "general") -> Recommendation:
    (rec,) = [r for r in recommend(drug, profile).recommendations if r.population == population]
    return rec


def _names(rec: Recommendation) -> list[str]:
    return [a.name for a in rec.alternatives]


def test_simvastatin_decreased_function_gets_the_three_genotype_safe_statins() -> None:
    rec = _only("simvastatin", _p(SLCO1B1="*1/*5", ABCG2=ABCG2_NORMAL, CYP2C9="*1/*1"))
    assert (rec.action, rec.lookup) == ("use-alternative", {"SLCO1B1": "Decreased Function"})
    # Strong CPIC statements first, then by name; atorvastatin (<=40 mg) and pitavastatin (<=2 mg) are dose-limited
    assert [(a.name, a.rxnorm, a.strength) for a in rec.alternatives] == [
        ("rosuvastatin", "301542", "Strong"),
        ("fluvastatin", "41127", "Moderate"),
        ("pravastatin", "42463", "Moderate"),
    ]
    assert all(a.derived for a in rec.alternatives)
    rosu, fluva, _ = rec.alternatives
    assert rosu.lookup == {"ABCG2": "Normal Function", "SLCO1B1": "Decreased Function"}
    assert rosu.reason == (
        "alternative derived: standard dosing for this genotype under the same CPIC guideline (PMID:35152405): "
        "CPIC recommends standard rosuvastatin dosing for ABCG2 Normal Function, SLCO1B1 Decreased Function."
    )
    assert rosu.guideline_url == "https://www.pharmgkb.org/guidelineAnnotation/PA166262321"
    assert (rosu.recommendation_text or "").startswith("Prescribe desired starting dose")
    assert "CYP2C9 Normal Metabolizer (activity score 2.0)" in (fluva.reason or "")
    # the simvastatin recommendation keeps its own citation and wording
    assert rec.guideline_url == "https://www.pharmgkb.org/guidelineAnnotation/PA166105005"
    assert STATINS in rec.citations
    assert (rec.recommendation_text or "").startswith("Prescribe an alternative statin depending on the desired")


def test_possible_decreased_function_and_lovastatin_follow_the_same_rule() -> None:
    profile = _p(SLCO1B1="*1/*5", ABCG2=ABCG2_NORMAL, CYP2C9="*1/*1")
    assert _names(_only("lovastatin", profile)) == ["rosuvastatin", "fluvastatin", "pravastatin"]
    possible = {**profile, **_p(SLCO1B1="*10/*15")}
    rec = _only("simvastatin", possible)
    assert rec.lookup == {"SLCO1B1": "Possible Decreased Function"}
    assert _names(rec) == ["rosuvastatin", "fluvastatin", "pravastatin"]


def test_abcg2_unknown_drops_rosuvastatin() -> None:
    # rosuvastatin has an "ABCG2 No Result" standard row; resting on a missing gene is not genotype-safe
    rec = _only("simvastatin", _p(SLCO1B1="*1/*5", CYP2C9="*1/*1"))
    assert _names(rec) == ["fluvastatin", "pravastatin"]


def test_cyp2c9_unknown_or_indeterminate_drops_fluvastatin() -> None:
    assert _names(_only("simvastatin", _p(SLCO1B1="*1/*5", ABCG2=ABCG2_NORMAL))) == ["rosuvastatin", "pravastatin"]
    # CYP2C9 *1/*10: activity score n/a; fluvastatin's "n/a" row is standard but says nothing about CYP2C9
    indeterminate = _p(SLCO1B1="*1/*5", ABCG2=ABCG2_NORMAL, CYP2C9="*1/*10")
    assert indeterminate["CYP2C9"].lookup_key == "n/a"
    assert _names(_only("simvastatin", indeterminate)) == ["rosuvastatin", "pravastatin"]
    assert _names(_only("simvastatin", _p(SLCO1B1="*1/*5"))) == ["pravastatin"]


def test_dose_limited_statins_are_excluded() -> None:
    # ABCG2 poor: rosuvastatin <=10 mg; CYP2C9 *1/*3 (AS 1.0): fluvastatin <=20 mg -> both reduce-dose
    profile = _p(SLCO1B1="*1/*5", ABCG2=ABCG2_POOR, CYP2C9="*1/*3")
    assert _only("rosuvastatin", profile).action == "reduce-dose"
    assert _only("fluvastatin", profile).action == "reduce-dose"
    assert _only("atorvastatin", profile).action == "reduce-dose"
    assert _names(_only("simvastatin", profile)) == ["pravastatin"]


def test_slco1b1_poor_function_gets_no_named_statin() -> None:
    # every other statin is dose-limited (rosuvastatin <=20 mg, pravastatin/fluvastatin <=40 mg, ...) or to avoid
    profile = _p(SLCO1B1="*5/*5", ABCG2=ABCG2_NORMAL, CYP2C9="*1/*1")
    rec = _only("simvastatin", profile)
    assert (rec.action, rec.alternatives) == ("use-alternative", [])
    assert {_only(d, profile).action for d in ("rosuvastatin", "pravastatin", "fluvastatin", "atorvastatin")} == {
        "reduce-dose"
    }


@pytest.mark.parametrize(("tpmt", "nudt15"), [("*3A/*3A", "*1/*1"), ("*1/*1", "*3/*3")])
def test_thiopurines_share_the_problem_so_no_alternative_is_named(tpmt: str, nudt15: str) -> None:
    profile = _p(TPMT=tpmt, NUDT15=nudt15)
    rec = _only("azathioprine", profile)
    assert (rec.action, rec.alternatives) == ("use-alternative", [])
    assert "non-thiopurine" in (rec.recommendation_text or "")
    # the other drugs of the guideline are equally affected: none of them has standard dosing
    for other in ("mercaptopurine", "thioguanine"):
        assert {r.action for r in recommend(other, profile).recommendations} != {"standard"}


def test_named_alternatives_are_left_as_the_kb_has_them() -> None:
    guidance = recommend("clopidogrel", _p(CYP2C19="*2/*2"))
    acs = next(r for r in guidance.recommendations if r.population == "CVI ACS PCI")
    assert [(a.name, a.rxnorm, a.derived, a.reason) for a in acs.alternatives] == [
        ("prasugrel", "613391", False, None),
        ("ticagrelor", "1116632", False, None),
    ]
    # the neurovascular row names none and gets none: CPIC's clopidogrel guideline covers no other drug
    assert [(r.population, r.action, r.alternatives) for r in guidance.recommendations][2] == (
        "NVI",
        "use-alternative",
        [],
    )


def test_carbamazepine_hla_a_gets_no_oxcarbazepine() -> None:
    # oxcarbazepine's guideline has no HLA-A: "not assessed" is not "safe" (rule 1)
    profile = _p(HLA_A="*31:01 positive", HLA_B="*15:02 negative")
    rec = _only("carbamazepine", profile, population="CBZ naive")
    assert (rec.action, rec.alternatives) == ("use-alternative", [])
    # without rule 1 it would be offered: CPIC gives oxcarbazepine standard dosing for HLA-B*15:02 negative
    assert {(r.population, r.action) for r in recommend("oxcarbazepine", profile).recommendations} == {
        ("OXC naive", "standard"),
        ("OXC use >3 mos", "standard"),
    }


def test_citalopram_ultrarapid_gets_sertraline_only_when_cpic_is_firm() -> None:
    rec = _only("citalopram", _p(CYP2C19="*17/*17", CYP2B6="*1/*1", CYP2D6="*1/*1"))
    assert [(a.name, a.strength, a.lookup) for a in rec.alternatives] == [
        ("sertraline", "Strong", {"CYP2B6": "Normal Metabolizer", "CYP2C19": "Ultrarapid Metabolizer"})
    ]
    # CYP2B6 poor: sertraline's standard row is only "Optional" -> not offered
    assert _only("citalopram", _p(CYP2C19="*17/*17", CYP2B6="*6/*6")).alternatives == []
    # poor metabolizer: sertraline is to avoid too; CYP2D6-only antidepressants were never assessed for CYP2C19
    assert _only("citalopram", _p(CYP2C19="*2/*2", CYP2B6="*1/*1", CYP2D6="*1/*1")).alternatives == []


def test_a_candidate_without_rxnorm_code_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    # rule 4: an uncoded one-click order is worse than none
    drugs = {name: dict(entry) for name, entry in _kb.drugs().items()}
    drugs["rosuvastatin"]["rxnorm"] = None
    monkeypatch.setattr(_kb, "drugs", lambda: drugs)
    rec = _only("simvastatin", _p(SLCO1B1="*1/*5", ABCG2=ABCG2_NORMAL, CYP2C9="*1/*1"))
    assert _names(rec) == ["fluvastatin", "pravastatin"]


def test_a_standard_row_worded_with_a_dose_limit_or_weak_evidence_does_not_count() -> None:
    profile = _p(SLCO1B1="*1/*5")
    (pravastatin,) = recommend("pravastatin", profile).recommendations
    assert _is_standard(pravastatin)
    limited = pravastatin.model_copy(update={"recommendation_text": "Prescribe ≤40mg as a starting dose."})
    assert not _is_standard(limited)
    assert not _is_standard(pravastatin.model_copy(update={"strength": "Optional"}))
    assert not _is_standard(pravastatin.model_copy(update={"lookup": {"SLCO1B1": "No Result"}}))
