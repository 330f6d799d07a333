"""The chart summary lists only phenotypes that depart from the population baseline."""

from __future__ import annotations

from services.cds_hooks._actionable import ActionableIndex, deviates
from services.cds_hooks._engines import load_engines
from services.common.twin import GeneResult
from services.pgx import outside_call


def test_cftr_reference_is_baseline_not_actionable() -> None:
    cftr = outside_call("CFTR", "ivacaftor non-responsive CFTR sequence/ivacaftor non-responsive CFTR sequence")
    assert cftr.phenotype == "ivacaftor non-responsive in CF patients"
    assert not deviates(cftr)
    assert ActionableIndex(load_engines()).drugs_changed_by(cftr) == []


def test_poor_metabolizer_still_actionable() -> None:
    pm = outside_call("CYP2C19", "*2/*2")
    assert deviates(pm)
    assert "clopidogrel" in ActionableIndex(load_engines()).drugs_changed_by(pm)


def test_normal_and_missing_phenotypes_change_nothing() -> None:
    index = ActionableIndex(load_engines())
    assert index.drugs_changed_by(outside_call("CYP2C19", "*1/*1")) == []
    assert index.drugs_changed_by(GeneResult(gene="CYP2C19", diplotypes=["*1/*99"])) == []


def test_warfarin_summary_names_every_gene_it_rests_on() -> None:
    from services.cds_hooks._cards import gene_phrases
    from services.pgx import recommend

    profile = {
        "CYP2C9": outside_call("CYP2C9", "*1/*1"),
        "VKORC1": outside_call("VKORC1", "rs9923231 reference (C)/rs9923231 reference (C)"),
        "CYP4F2": outside_call("CYP4F2", "*1/*3"),
    }
    guidance = recommend("warfarin", profile)
    cpic = next(r for r in guidance.recommendations if r.source == "CPIC")
    phrases = gene_phrases(cpic)
    assert "CYP2C9 Normal Metabolizer" in phrases
    assert "VKORC1 -1639 GG" in phrases
    assert any(p.startswith("CYP4F2 ") and p != "CYP4F2 " for p in phrases), phrases
    assert "CYP4F2" not in phrases
