"""FINDRISC, the Finnish Diabetes Risk Score (Lindstrom & Tuomilehto 2003, revised form).

Points for age, BMI, waist, daily activity, daily vegetables/fruit, antihypertensive drugs ever,
high blood glucose ever and family history (3 levels); the total maps to a 10-year type 2 diabetes
risk category. Bands are inclusive as printed on the form (BMI 25-30 gives 1 point at 25 and at 30;
male waist 94-102 cm gives 3). Age counts in completed years.

>>> x = FindriscInputs(age=47, bmi=25, waist_cm=94, sex="male", physically_active=True, vegetables_daily=True,
...                    antihypertensive=False, high_glucose_history=False, family_history="none")
>>> points(x), category(points(x))
(6, 'low (~1%)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

from services.risk._data import load

__all__ = ["FamilyHistory", "FindriscInputs", "QUESTIONNAIRE", "category", "points"]

FamilyHistory = Literal["none", "second_degree", "first_degree"]

QUESTIONNAIRE: Final = ("physically_active", "vegetables_daily", "high_glucose_history", "family_history_diabetes")
"""Answers that only the patient can give (no lab or code carries them)."""


@dataclass(frozen=True)
class FindriscInputs:
    """The eight FINDRISC items (age in years, BMI kg/m2, waist cm)."""

    age: float
    bmi: float
    waist_cm: float
    sex: Literal["female", "male"]
    physically_active: bool
    vegetables_daily: bool
    antihypertensive: bool
    high_glucose_history: bool
    family_history: FamilyHistory


def _in_band(value: float, band: dict[str, Any]) -> bool:
    if band["below"] is not None:
        return bool(value < band["below"])
    if band["above"] is not None:
        return bool(value > band["above"])
    return bool(band["min"] <= value <= band["max"])


def _band_points(item: str, value: float) -> int:
    for band in load("findrisc")["numeric"][item]:
        if _in_band(value, band):
            return int(band["points"])
    raise ValueError(f"FINDRISC {item}: no band holds {value:g}")


def points(x: FindriscInputs) -> int:
    """Total FINDRISC points (0-26)."""
    answers: dict[str, dict[str, int]] = load("findrisc")["answers"]

    def yes_no(item: str, flag: bool) -> int:
        return answers[item]["yes" if flag else "no"]

    return sum(
        [
            _band_points("age_years", math.floor(x.age)),
            _band_points("bmi_kg_m2", x.bmi),
            _band_points(f"waist_cm_{x.sex}", x.waist_cm),
            yes_no("physical_activity_30min_daily", x.physically_active),
            yes_no("vegetables_fruit_berries_daily", x.vegetables_daily),
            yes_no("antihypertensive_medication_ever_regularly", x.antihypertensive),
            yes_no("history_high_blood_glucose", x.high_glucose_history),
            answers["family_history_diabetes"][x.family_history],
        ]
    )


def category(total: int) -> str:
    """Risk category label with the approximate 10-year risk, e.g. ``moderate (~17%)``."""
    for band in load("findrisc")["categories"]:
        if _in_band(total, band):
            return str(band["label"])
    raise ValueError(f"FINDRISC total {total} outside 0-26")
