"""Levine 2018 Phenotypic Age (PhenoAge): a biological age from nine blood markers and age.

    xb       = intercept + sum(weight_i * marker_i) + 0.0804 * age        (10-year Gompertz mortality model)
    M        = 1 - exp(-1.51714 * exp(xb) / 0.007692696)                  (10-year mortality score)
    PhenoAge = 141.50225 + ln(-0.0055305 * ln(1 - M)) / denominator

Conventions (documented in the model card and selectable):

* **CRP.** Levine uses ``ln(CRP)`` with CRP in **mg/dL** (default, ``crp_transform="ln"``). Labs report
  CRP / hs-CRP in mg/L, which the unit layer divides by 10. A CRP of 0 (below detection) has no log; it is
  floored at :data:`CRP_FLOOR_MG_DL` (0.01 mg/dL = 0.1 mg/L, the usual hs-CRP detection limit). The BioAge
  R package's stored NHANES values use ``ln(1 + CRP)`` instead (``crp_transform="ln1p"``).
* **Denominator.** 0.090165 as printed by Levine 2018 (default); 0.09165 (a later "correction", about
  two years higher) is available as ``denominator=0.09165``.

``ln(1 - M)`` is evaluated as ``-1.51714 * exp(xb) / gamma`` directly, so very high risks do not round
M to 1 and lose the age.

>>> r = compute(PhenoAgeInputs(age=47, albumin_g_l=50, creatinine_umol_l=75.14, glucose_mmol_l=4.44,
...     crp_mg_dl=0.014995576820477703, lymphocyte_percent=40, mcv_fl=88, rdw_percent=12, alp_u_l=45, wbc=4.2))
>>> round(r.linear_predictor, 3), round(r.phenoage, 2)
(-10.469, 26.35)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from services.risk._data import load

__all__ = [
    "AGE_RANGE",
    "CRP_FLOOR_MG_DL",
    "CrpTransform",
    "PhenoAgeInputs",
    "PhenoAgeResult",
    "REQUIRED",
    "compute",
    "inapplicable",
]

CrpTransform = Literal["ln", "ln1p"]
CRP_FLOOR_MG_DL: Final = 0.01
AGE_RANGE: Final = (20.0, 84.0)
"""Ages of the NHANES III training sample; outside it PhenoAge is not reported."""

REQUIRED: Final = (
    "age",
    "albumin",
    "creatinine",
    "glucose",
    "crp",
    "lymphocyte_percent",
    "mcv",
    "rdw",
    "alp",
    "wbc",
)


@dataclass(frozen=True)
class PhenoAgeInputs:
    """Markers in Levine's units: g/L, umol/L, mmol/L, mg/dL (CRP), %, fL, %, U/L, 10^3/uL."""

    age: float
    albumin_g_l: float
    creatinine_umol_l: float
    glucose_mmol_l: float
    crp_mg_dl: float
    lymphocyte_percent: float
    mcv_fl: float
    rdw_percent: float
    alp_u_l: float
    wbc: float


@dataclass(frozen=True)
class PhenoAgeResult:
    """The linear predictor, 10-year mortality score and PhenoAge (years) with the conventions used."""

    linear_predictor: float
    mortality_score: float
    phenoage: float
    crp_transform: CrpTransform
    denominator: float
    crp_floored: bool


def crp_term(crp_mg_dl: float, transform: CrpTransform) -> tuple[float, bool]:
    """The CRP predictor and whether the detection-limit floor was applied."""
    if transform == "ln1p":
        return math.log1p(crp_mg_dl), False
    if crp_mg_dl < CRP_FLOOR_MG_DL:
        return math.log(CRP_FLOOR_MG_DL), True
    return math.log(crp_mg_dl), False


def compute(
    x: PhenoAgeInputs, *, crp_transform: CrpTransform = "ln", denominator: float | None = None
) -> PhenoAgeResult:
    """PhenoAge of ``x``; ``denominator`` defaults to the data file's (0.090165)."""
    data = load("phenoage")
    w: dict[str, float] = data["linear_predictor"]
    k: dict[str, float] = data["constants"]
    den = float(denominator if denominator is not None else data["defaults"]["denominator"])
    crp, floored = crp_term(x.crp_mg_dl, crp_transform)
    xb = math.fsum(
        [
            w["intercept"],
            w["albumin_g_L"] * x.albumin_g_l,
            w["creatinine_umol_L"] * x.creatinine_umol_l,
            w["glucose_mmol_L"] * x.glucose_mmol_l,
            w["ln_crp_mg_dL"] * crp,
            w["lymphocyte_percent"] * x.lymphocyte_percent,
            w["mcv_fL"] * x.mcv_fl,
            w["rdw_percent"] * x.rdw_percent,
            w["alp_U_L"] * x.alp_u_l,
            w["wbc_10e3_per_uL"] * x.wbc,
            w["age_years"] * x.age,
        ]
    )
    gamma, factor = k["gompertz_gamma"], k["mortality_factor"]
    log_survival = factor * math.exp(xb) / gamma  # ln(1 - M), negative
    mortality = -math.expm1(log_survival)
    # ln(-c * ln(1 - M)) with c < 0 printed as "-0.0055305 * ln(1 - M)".
    phenoage = k["phenoage_intercept"] + (math.log(-k["phenoage_log_factor"]) + math.log(-log_survival)) / den
    return PhenoAgeResult(xb, mortality, phenoage, crp_transform, den, floored)


def inapplicable(age: float) -> str | None:
    """Why PhenoAge is not reported at this age, or None."""
    low, high = AGE_RANGE
    if low <= age <= high:
        return None
    return f"PhenoAge is validated for age {low:g}-{high:g} years (got {age:g})"
