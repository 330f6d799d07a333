"""Race-free CKD-EPI 2021 creatinine equation (Inker et al., NEJM 2021, doi:10.1056/NEJMoa2102953).

PREVENT was derived with this eGFR; when a twin has creatinine but no CKD-EPI 2021 eGFR
(LOINC 98979-8), the engine computes it rather than reuse older race-specific estimates.

>>> round(ckd_epi_2021(80.0, 50.0, "female"), 1)
77.4
"""

from __future__ import annotations

from services.risk.units import CREATININE_UMOL_PER_MG_DL

__all__ = ["ckd_epi_2021"]


def ckd_epi_2021(creatinine_umol_l: float, age: float, sex: str) -> float:
    """eGFR in mL/min/1.73 m2 from serum creatinine (umol/L), age (years) and sex."""
    scr = creatinine_umol_l / CREATININE_UMOL_PER_MG_DL
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = scr / kappa
    value = float(142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age)
    return value * 1.012 if female else value
