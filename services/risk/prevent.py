"""AHA PREVENT equations, base model (Khan et al. 2024): 10- and 30-year total CVD, ASCVD, heart failure.

The base model is a logistic regression on centred, piecewise-linear terms; it is race-free and uses
eGFR (CKD-EPI 2021), statin use and non-HDL cholesterol. Coefficients come from
``data/prevent_base.json`` (built from ``shared/data/risk/prevent_base_coefficients.csv``).

>>> x = PreventInputs(age=50, sex="female", sbp=160, bp_treated=True, total_chol=200, hdl=45, statin=False,
...                   diabetes=True, smoker=False, egfr=90, bmi=35)
>>> round(risk(x, "total_cvd_10y"), 3), round(risk(x, "heart_failure_30y"), 2)
(0.147, 0.39)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from services.risk._data import load
from services.risk.units import CHOLESTEROL_MMOL_PER_MG_DL

__all__ = ["OUTCOMES", "PreventInputs", "inapplicable", "required_inputs", "risk", "terms"]

Sex = Literal["female", "male"]

OUTCOMES: Final = (
    "total_cvd_10y",
    "ascvd_10y",
    "heart_failure_10y",
    "total_cvd_30y",
    "ascvd_30y",
    "heart_failure_30y",
)

_COMMON: Final = ("age", "sex", "systolic_bp", "bp_treated", "diabetes", "smoking", "egfr")
_LIPIDS: Final = ("total_cholesterol", "hdl_cholesterol", "statin")

# Validated ranges of the PREVENT derivation (Khan 2024, Methods); outside them: not applicable.
AGE_RANGE: Final = {10: (30.0, 79.0), 30: (30.0, 59.0)}
SBP_RANGE: Final = (90.0, 180.0)
TC_RANGE: Final = (130.0, 320.0)
HDL_RANGE: Final = (20.0, 100.0)
EGFR_RANGE: Final = (15.0, 140.0)
BMI_RANGE: Final = (18.5, 39.9)


@dataclass(frozen=True)
class PreventInputs:
    """Inputs in PREVENT's units: years, mm[Hg], mg/dL, mL/min/1.73 m2, kg/m2."""

    age: float
    sex: Sex
    sbp: float
    bp_treated: bool
    diabetes: bool
    smoker: bool
    egfr: float
    total_chol: float | None = None
    hdl: float | None = None
    statin: bool = False
    bmi: float | None = None


def horizon(outcome: str) -> int:
    """10 or 30 (years) from an outcome name such as ``ascvd_30y``."""
    return int(outcome.rsplit("_", 1)[1].rstrip("y"))


def required_inputs(outcome: str) -> tuple[str, ...]:
    """Canonical input names an outcome needs (heart failure uses BMI instead of lipids)."""
    if outcome.startswith("heart_failure"):
        return (*_COMMON, "bmi")
    return (*_COMMON, *_LIPIDS)


def terms(x: PreventInputs) -> dict[str, float]:
    """The model's transformed predictors, keyed as in the coefficient table."""
    age = (x.age - 55.0) / 10.0
    sbp_ge110 = (max(x.sbp, 110.0) - 130.0) / 20.0
    egfr_lt60 = (min(x.egfr, 60.0) - 60.0) / -15.0
    dm, smoking, bptx = float(x.diabetes), float(x.smoker), float(x.bp_treated)
    t = {
        "constant": 1.0,
        "age": age,
        "age_sq": age * age,
        "sbp_lt110": (min(x.sbp, 110.0) - 110.0) / 20.0,
        "sbp_ge110": sbp_ge110,
        "dm": dm,
        "smoking": smoking,
        "egfr_lt60": egfr_lt60,
        "egfr_ge60": (max(x.egfr, 60.0) - 90.0) / -15.0,
        "bptx": bptx,
        "bptx_x_sbp_ge110": bptx * sbp_ge110,
        "age_x_sbp_ge110": age * sbp_ge110,
        "age_x_dm": age * dm,
        "age_x_smoking": age * smoking,
        "age_x_egfr_lt60": age * egfr_lt60,
    }
    if x.total_chol is not None and x.hdl is not None:
        nonhdl = (x.total_chol - x.hdl) * CHOLESTEROL_MMOL_PER_MG_DL - 3.5
        hdl = (x.hdl * CHOLESTEROL_MMOL_PER_MG_DL - 1.3) / 0.3
        statin = float(x.statin)
        t |= {
            "nonhdl": nonhdl,
            "hdl": hdl,
            "statin": statin,
            "statin_x_nonhdl": statin * nonhdl,
            "age_x_nonhdl": age * nonhdl,
            "age_x_hdl": age * hdl,
        }
    if x.bmi is not None:
        bmi_ge30 = (max(x.bmi, 30.0) - 30.0) / 5.0
        t |= {"bmi_lt30": (min(x.bmi, 30.0) - 25.0) / 5.0, "bmi_ge30": bmi_ge30, "age_x_bmi_ge30": age * bmi_ge30}
    return t


def risk(x: PreventInputs, outcome: str) -> float:
    """Predicted probability of ``outcome`` (one of OUTCOMES) over its horizon."""
    coefficients: dict[str, float] = load("prevent")["equations"][outcome][x.sex]
    t = terms(x)
    missing = [name for name in coefficients if name not in t]
    if missing:
        raise ValueError(f"PREVENT {outcome}: inputs missing for terms {', '.join(missing)}")
    lp = math.fsum(c * t[name] for name, c in coefficients.items())
    return 1.0 / (1.0 + math.exp(-lp))


def _outside(label: str, value: float, bounds: tuple[float, float], unit: str) -> str | None:
    low, high = bounds
    if low <= value <= high:
        return None
    return f"PREVENT is validated for {label} {low:g}-{high:g}{unit} (got {value:g})"


def inapplicable(x: PreventInputs, outcome: str) -> str | None:
    """Why ``outcome`` must not be reported for these inputs, or None when it may."""
    years = horizon(outcome)
    checks = [
        _outside("age", x.age, AGE_RANGE[years], " years" + (" for 30-year risk" if years == 30 else "")),
        _outside("systolic BP", x.sbp, SBP_RANGE, " mm[Hg]"),
        _outside("eGFR", x.egfr, EGFR_RANGE, " mL/min/1.73m2"),
    ]
    if outcome.startswith("heart_failure"):
        if x.bmi is not None:
            checks.append(_outside("BMI", x.bmi, BMI_RANGE, " kg/m2"))
    else:
        if x.total_chol is not None:
            checks.append(_outside("total cholesterol", x.total_chol, TC_RANGE, " mg/dL"))
        if x.hdl is not None:
            checks.append(_outside("HDL cholesterol", x.hdl, HDL_RANGE, " mg/dL"))
    reasons = [c for c in checks if c]
    return "; ".join(reasons) if reasons else None
