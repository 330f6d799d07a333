"""2013 ACC/AHA pooled cohort equations (Goff et al.): 10-year hard ASCVD risk.

Race- and sex-specific Cox models: ``risk = 1 - S0 ** exp(sum - mean_sum)``. Groups are white and
African American women and men; following the guideline, other races use the white equations.
Coefficients come from ``data/pce_2013.json``.

>>> x = PceInputs(age=55, sex="female", race="white", total_chol=213, hdl=50, sbp=120, bp_treated=False,
...               smoker=False, diabetes=False)
>>> round(individual_sum(x), 3), round(100 * risk(x), 3)
(-29.677, 2.052)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from services.risk._data import load

__all__ = ["PceInputs", "REQUIRED", "group", "inapplicable", "individual_sum", "risk"]

REQUIRED: Final = (
    "age",
    "sex",
    "race",
    "total_cholesterol",
    "hdl_cholesterol",
    "systolic_bp",
    "bp_treated",
    "smoking",
    "diabetes",
)

# Ranges of the 2013 equations (guideline and ASCVD Risk Estimator): outside them, not applicable.
AGE_RANGE: Final = (40.0, 79.0)
TC_RANGE: Final = (130.0, 320.0)
HDL_RANGE: Final = (20.0, 100.0)
SBP_RANGE: Final = (90.0, 200.0)


@dataclass(frozen=True)
class PceInputs:
    """Inputs in the equations' units (years, mg/dL, mm[Hg])."""

    age: float
    sex: Literal["female", "male"]
    race: Literal["white", "black", "other"]
    total_chol: float
    hdl: float
    sbp: float
    bp_treated: bool
    smoker: bool
    diabetes: bool


def group(x: PceInputs) -> str:
    """Coefficient group: ``aa_`` for Black patients, ``white_`` otherwise, then the sex."""
    return f"{'aa' if x.race == 'black' else 'white'}_{x.sex}"


def individual_sum(x: PceInputs) -> float:
    """Sum of coefficient x value (the guideline's 'individual sum')."""
    c: dict[str, float] = load("pce")["groups"][group(x)]
    ln_age, ln_tc, ln_hdl, ln_sbp = math.log(x.age), math.log(x.total_chol), math.log(x.hdl), math.log(x.sbp)
    smoker, diabetes = float(x.smoker), float(x.diabetes)
    sbp_terms = (
        ("ln_treated_sbp", "ln_age_x_ln_treated_sbp")
        if x.bp_treated
        else (
            "ln_untreated_sbp",
            "ln_age_x_ln_untreated_sbp",
        )
    )
    return math.fsum(
        [
            c["ln_age"] * ln_age,
            c["ln_age_sq"] * ln_age * ln_age,
            c["ln_tc"] * ln_tc,
            c["ln_age_x_ln_tc"] * ln_age * ln_tc,
            c["ln_hdl"] * ln_hdl,
            c["ln_age_x_ln_hdl"] * ln_age * ln_hdl,
            c[sbp_terms[0]] * ln_sbp,
            c[sbp_terms[1]] * ln_age * ln_sbp,
            c["smoker"] * smoker,
            c["ln_age_x_smoker"] * ln_age * smoker,
            c["diabetes"] * diabetes,
        ]
    )


def risk(x: PceInputs) -> float:
    """10-year probability of a first hard ASCVD event."""
    c: dict[str, float] = load("pce")["groups"][group(x)]
    survival = float(c["baseline_survival_10y"] ** math.exp(individual_sum(x) - c["mean_individual_sum"]))
    return 1.0 - survival


def inapplicable(x: PceInputs) -> str | None:
    """Why the equations must not be applied to these inputs, or None."""
    reasons = []
    for label, value, (low, high), unit in (
        ("age", x.age, AGE_RANGE, " years"),
        ("total cholesterol", x.total_chol, TC_RANGE, " mg/dL"),
        ("HDL cholesterol", x.hdl, HDL_RANGE, " mg/dL"),
        ("systolic BP", x.sbp, SBP_RANGE, " mm[Hg]"),
    ):
        if not low <= value <= high:
            reasons.append(f"PCE is validated for {label} {low:g}-{high:g}{unit} (got {value:g})")
    return "; ".join(reasons) if reasons else None
