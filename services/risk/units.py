"""Lab units: from what a laboratory sends (UCUM) to the unit each equation is written in.

Every canonical lab name (``services.common.codes.LAB_CODES`` values) that a risk model reads has one
*model unit* and a closed table of accepted source units. A unit that is not in the table is an error
naming the Observation (:class:`~services.risk.errors.UnknownUnitError`), never a guess. After
conversion the value is checked against what is physiologically possible; a value outside that is an
:class:`~services.risk.errors.ImpossibleValueError` (not the same as "outside a model's validated
range", which gives a not-applicable result instead).

>>> convert("total_cholesterol", 5.172, "mmol/L", "Observation/1").value.__round__(1)
200.0
>>> round(convert("crp", 2.1, "mg/L", "Observation/2").value, 6)
0.21
>>> convert("glucose", 90, "mg/dl", "Observation/3").unit
'mmol/L'

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from services.risk.errors import ImpossibleValueError, UnknownUnitError

__all__ = ["CHOLESTEROL_MMOL_PER_MG_DL", "Converted", "LabUnit", "LAB_UNITS", "convert", "model_unit"]

CHOLESTEROL_MMOL_PER_MG_DL: Final = 0.02586
"""mmol/L per mg/dL of cholesterol (the PREVENT paper's factor; 1 / 38.67)."""
CREATININE_UMOL_PER_MG_DL: Final = 88.4017
GLUCOSE_MMOL_PER_MG_DL: Final = 0.0555


def _scale(factor: float) -> Callable[[float], float]:
    return lambda x: x * factor


def _ifcc_to_ngsp(x: float) -> float:
    """HbA1c IFCC mmol/mol to NGSP % (master equation)."""
    return x * 0.0915 + 2.15


@dataclass(frozen=True)
class LabUnit:
    """The model unit of one lab, the accepted source units and the possible range (model unit)."""

    unit: str
    accepted: dict[str, Callable[[float], float]]
    low: float
    high: float


_ID = _scale(1.0)
_CM = {"cm": _ID, "m": _scale(100.0), "mm": _scale(0.1), "[in_i]": _scale(2.54), "in": _scale(2.54)}

LAB_UNITS: Final[dict[str, LabUnit]] = {
    "total_cholesterol": LabUnit(
        "mg/dL", {"mg/dL": _ID, "mmol/L": _scale(1 / CHOLESTEROL_MMOL_PER_MG_DL)}, 1.0, 1500.0
    ),
    "hdl_cholesterol": LabUnit("mg/dL", {"mg/dL": _ID, "mmol/L": _scale(1 / CHOLESTEROL_MMOL_PER_MG_DL)}, 1.0, 400.0),
    "systolic_bp": LabUnit("mm[Hg]", {"mm[Hg]": _ID, "mmHg": _ID, "mm Hg": _ID}, 40.0, 300.0),
    "bmi": LabUnit("kg/m2", {"kg/m2": _ID, "kg/m^2": _ID, "kg/(m2)": _ID}, 8.0, 150.0),
    "body_weight": LabUnit(
        "kg", {"kg": _ID, "g": _scale(0.001), "[lb_av]": _scale(0.45359237), "lb": _scale(0.45359237)}, 0.5, 700.0
    ),
    "body_height": LabUnit("cm", _CM, 30.0, 275.0),
    "waist_circumference": LabUnit("cm", _CM, 20.0, 300.0),
    "egfr": LabUnit(
        "mL/min/{1.73_m2}",
        {"mL/min/{1.73_m2}": _ID, "mL/min/1.73m2": _ID, "mL/min/{1.73m2}": _ID, "mL/min/1.73_m2": _ID},
        0.0,
        250.0,
    ),
    "hba1c": LabUnit("%", {"%": _ID}, 2.0, 25.0),
    "hba1c_ifcc": LabUnit("%", {"mmol/mol": _ifcc_to_ngsp}, 2.0, 25.0),
    "albumin": LabUnit("g/L", {"g/L": _ID, "g/dL": _scale(10.0)}, 5.0, 80.0),
    "creatinine": LabUnit(
        "umol/L",
        {"umol/L": _ID, "\u00b5mol/L": _ID, "\u03bcmol/L": _ID, "mg/dL": _scale(CREATININE_UMOL_PER_MG_DL)},
        5.0,
        3000.0,
    ),
    "glucose": LabUnit("mmol/L", {"mmol/L": _ID, "mg/dL": _scale(GLUCOSE_MMOL_PER_MG_DL)}, 0.5, 120.0),
    "glucose_fasting": LabUnit("mmol/L", {"mmol/L": _ID, "mg/dL": _scale(GLUCOSE_MMOL_PER_MG_DL)}, 0.5, 120.0),
    "crp": LabUnit("mg/dL", {"mg/dL": _ID, "mg/L": _scale(0.1)}, 0.0, 100.0),
    "hs_crp": LabUnit("mg/dL", {"mg/dL": _ID, "mg/L": _scale(0.1)}, 0.0, 100.0),
    "lymphocyte_percent": LabUnit("%", {"%": _ID}, 0.0, 100.0),
    "mcv": LabUnit("fL", {"fL": _ID}, 30.0, 200.0),
    "rdw": LabUnit("%", {"%": _ID}, 5.0, 50.0),
    "alp": LabUnit("U/L", {"U/L": _ID, "[IU]/L": _ID, "IU/L": _ID}, 1.0, 10000.0),
    "wbc": LabUnit(
        "10*3/uL",
        {
            "10*3/uL": _ID,
            "10^3/uL": _ID,
            "10*9/L": _ID,
            "10^9/L": _ID,
            "/uL": _scale(0.001),
            "{cells}/uL": _scale(0.001),
            "/mm3": _scale(0.001),
        },
        0.05,
        500.0,
    ),
}


@dataclass(frozen=True)
class Converted:
    """A value in its model unit."""

    value: float
    unit: str


def model_unit(name: str) -> str:
    """The unit ``name`` is converted to (raises KeyError for a lab the engine does not read)."""
    return LAB_UNITS[name].unit


def _fmt(x: float) -> str:
    return f"{x:g}"


def convert(name: str, value: float, unit: str, reference: str) -> Converted:
    """``value`` in ``unit`` converted to the model unit of lab ``name``; ``reference`` names the source.

    Raises UnknownUnitError for a unit outside the table and ImpossibleValueError for a value that
    cannot be real.
    """
    spec = LAB_UNITS[name]
    to_model = spec.accepted.get(unit.strip())
    if to_model is None:
        # Labs often send UCUM units in the wrong case ("mg/dl"); no two accepted units differ only by case.
        folded = {u.lower(): f for u, f in spec.accepted.items()}
        to_model = folded.get(unit.strip().lower())
    if to_model is None:
        known = ", ".join(spec.accepted)
        raise UnknownUnitError(f"{name} unit {unit!r} is not supported (known: {known})", location=reference)
    converted = to_model(value)
    if not spec.low <= converted <= spec.high:
        shown = f"{_fmt(value)} {unit}"
        raise ImpossibleValueError(
            f"{name} {shown} is impossible (must be between {_limits(spec, to_model, unit.strip())})",
            location=reference,
        )
    return Converted(converted, spec.unit)


def _limits(spec: LabUnit, to_model: Callable[[float], float], unit: str) -> str:
    """The possible range in the unit the value came in, and in the model unit when that differs.

    Every conversion in the table is affine (x * k + a), so the limits invert exactly.
    """
    model = f"{_fmt(spec.low)} and {_fmt(spec.high)} {spec.unit}"
    offset = to_model(0.0)
    factor = to_model(1.0) - offset
    if unit == spec.unit or (factor == 1.0 and offset == 0.0):
        return model
    low, high = ((limit - offset) / factor for limit in (spec.low, spec.high))
    return f"{low:.4g} and {high:.4g} {unit}, i.e. {model}"
