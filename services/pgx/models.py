"""Result types of the pgx library (the contract ``cds_hooks`` and ``ingest`` consume).

Gene calls use :class:`services.common.twin.GeneResult`; this module adds the drug-centred
recommendation types. Card text is composed from these structured facts by ``cds_hooks``; the
guideline link carries the full wording.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.twin import GeneResult

GuidanceStatus = Literal[
    "actionable",  # a recommendation that changes prescribing (avoid, alternative, dose change)
    "standard",  # a recommendation exists and says: use as usual / standard dosing
    "no-guidance",  # the drug has no PGx guideline in the knowledge base
    "genotype-unknown",  # guidance exists but the patient has no call for a needed gene
    "indeterminate",  # calls exist but do not determine one phenotype / lookup key
    "no-recommendation",  # the guideline has no recommendation for this phenotype
]

Action = Literal[
    "avoid",
    "use-alternative",
    "reduce-dose",
    "increase-dose",
    "adjust-dose",
    "standard",
    "use-with-caution",
    "monitor",
    "consider-testing",
    "see-guideline",  # the text could not be reduced to one action safely: show the guideline wording
    "see-dosing-algorithm",  # the guideline doses by algorithm (CPIC warfarin): no fixed dose change
    "none",
]


class Drug(BaseModel):
    """A drug as the knowledge base knows it (RxNorm ingredient)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case ingredient name, e.g. 'clopidogrel'.")
    rxnorm: str | None = Field(None, description="RxNorm ingredient RxCUI, e.g. '32968'.")


class Alternative(BaseModel):
    """A drug to use instead, coded for a one-click order.

    Named by the guideline (``derived`` false), or derived by twinrx when the guideline says "use an
    alternative" and names none: then it is another drug of the same CPIC guideline whose own CPIC
    recommendation for this patient's genotype is standard dosing (see services/pgx/_alternatives.py).
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    rxnorm: str | None = None
    derived: bool = Field(False, description="True: not named by the guideline; chosen by the derivation rule.")
    reason: str | None = Field(None, description="Why a derived alternative was chosen, for the card.")
    recommendation_text: str | None = Field(
        None, description="Derived only: the alternative's own CPIC recommendation for this patient's genotype."
    )
    strength: str | None = Field(None, description="Derived only: CPIC classification of that recommendation.")
    lookup: dict[str, str] = Field(default_factory=dict, description="Derived only: gene -> key it was matched on.")
    guideline_url: str | None = Field(None, description="Derived only: the alternative's own CPIC guideline page.")
    gene_results: list[GeneResult] = Field(
        default_factory=list, description="Derived only: the patient's calls that recommendation rests on."
    )


class Recommendation(BaseModel):
    """One guideline recommendation for one drug and the patient's gene results."""

    model_config = ConfigDict(extra="forbid")

    drug: Drug
    status: GuidanceStatus
    genes: list[str] = Field(description="Genes the recommendation depends on, e.g. ['CYP2C19'].")
    gene_results: list[GeneResult] = Field(default_factory=list, description="The calls it rests on.")
    lookup: dict[str, str] = Field(default_factory=dict, description="Gene -> phenotype/score key used.")
    action: Action = "none"
    dose_change_percent: int | None = Field(None, description="e.g. -50 for 'reduce dose by 50 %'.")
    alternatives: list[Alternative] = Field(default_factory=list)
    strength: str | None = Field(None, description="CPIC classification: Strong, Moderate, Optional ...")
    implications: list[str] = Field(default_factory=list, description="Per-gene implication sentences.")
    recommendation_text: str | None = Field(None, description="The guideline's recommendation, plain text.")
    population: str | None = None
    source: Literal["CPIC", "DPWG"] = "CPIC"
    guideline_name: str | None = None
    guideline_url: str | None = None
    citations: list[str] = Field(default_factory=list, description="PMIDs or DOIs.")
    candidates: list[str] = Field(default_factory=list, description="Competing diplotypes when indeterminate.")


class DrugGuidance(BaseModel):
    """Everything the knowledge base says about one drug for one patient."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="What was asked: an RxCUI, a name or clinical-drug text.")
    drug: Drug | None = Field(None, description="The resolved ingredient; None if unknown.")
    status: GuidanceStatus
    recommendations: list[Recommendation] = Field(default_factory=list)
