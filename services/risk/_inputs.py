"""Twin -> model inputs: each value converted to the model unit, with its source and a stale flag.

An :class:`InputSet` resolves canonical input names lazily. A value that cannot be used (a lab in an
unknown unit, a value no living patient can have, a birth date in the future or implying an age over
130) is *rejected*: the input is left out, :attr:`InputSet.rejected` says why (naming the Observation
or Patient), and only the models that need that input become not applicable. One bad Observation
must not cost the patient the models that never read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from services.common.codes import is_diabetes
from services.common.twin import InputUsed, LabValue, SourceRef, Twin
from services.risk import egfr as egfr_mod
from services.risk.drugs import drug_classes
from services.risk.errors import CaseInputError, ImpossibleValueError, UnknownUnitError
from services.risk.units import convert

__all__ = ["ANSWER_NAMES", "MAX_AGE_YEARS", "InputSet"]

MAX_AGE_YEARS = 130
"""Older than this, a birth date is a data-entry error (e.g. 1726 for 1976), not a patient."""


class _Rejected(Exception):
    """An input that exists but cannot be used; ``reason`` names the value and its source."""

    def __init__(self, reason: str, reference: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reference = reference


_DIRECT_LABS = (
    "total_cholesterol",
    "hdl_cholesterol",
    "systolic_bp",
    "waist_circumference",
    "albumin",
    "creatinine",
    "lymphocyte_percent",
    "mcv",
    "rdw",
    "alp",
    "wbc",
)
# One input, several possible labs: the first present wins (fasting glucose and hs-CRP are preferred).
_ALTERNATIVES = {
    "glucose": ("glucose_fasting", "glucose"),
    "crp": ("hs_crp", "crp"),
    "hba1c": ("hba1c", "hba1c_ifcc"),
}
ANSWER_NAMES = ("physically_active", "vegetables_daily", "family_history_diabetes", "high_glucose_history")
_FAMILY = ("none", "second_degree", "first_degree")
# Medication statuses that count as "on treatment" (a paused order still does; a stopped one does not).
_CURRENT = (None, "active", "on-hold")
# Prediabetes thresholds (ADA): HbA1c >= 5.7 %, fasting glucose >= 5.6 mmol/L count as high glucose found.
_HBA1C_HIGH = 5.7
_FASTING_GLUCOSE_HIGH = 5.6


class InputSet:
    """Lazily resolved, converted inputs of one twin on one date."""

    def __init__(
        self,
        twin: Twin,
        *,
        on: date,
        max_age_days: int,
        answers: Mapping[str, Any] | None = None,
    ) -> None:
        self.twin = twin
        self.on = on
        self._oldest = on - timedelta(days=max_age_days)
        self._answers = dict(answers or {})
        self._cache: dict[str, list[InputUsed]] = {}
        self.rejected: dict[str, tuple[str, str]] = {}
        """Input name -> (reason, source reference) for inputs present but unusable."""

    # -- public -----------------------------------------------------------------------------------
    def get(self, name: str) -> InputUsed | None:
        """The input ``name`` (first entry), or None when the twin does not have it."""
        entries = self.entries(name)
        return entries[0] if entries else None

    def entries(self, name: str) -> list[InputUsed]:
        """The input and the values it was derived from (e.g. BMI, weight and height)."""
        if name not in self._cache:
            try:
                self._cache[name] = self._resolve(name)
            except _Rejected as rejected:
                self._cache[name] = []
                self.rejected[name] = (rejected.reason, rejected.reference)
        return self._cache[name]

    def rejection(self, names: tuple[str, ...] | list[str]) -> str | None:
        """Why some of ``names`` cannot be used ("; "-joined), or None when none was rejected."""
        reasons: list[str] = []
        for name in names:
            self.entries(name)
            if name in self.rejected and self.rejected[name][0] not in reasons:
                reasons.append(self.rejected[name][0])
        return "; ".join(reasons) or None

    def value(self, name: str) -> Any:
        """The value of a present input (KeyError when absent)."""
        used = self.get(name)
        if used is None:
            raise KeyError(name)
        return used.value

    def gather(self, names: tuple[str, ...]) -> tuple[list[InputUsed], list[str]]:
        """(inputs used incl. derivations, names missing) for a model needing ``names``."""
        used: list[InputUsed] = []
        missing: list[str] = []
        for name in names:
            entries = self.entries(name)
            if entries:
                used.extend(entries)
            else:
                missing.append(name)
        return used, missing

    # -- resolution -------------------------------------------------------------------------------
    def _stale(self, source: SourceRef | None) -> bool:
        return source is not None and source.date is not None and source.date.date() < self._oldest

    def _used(self, name: str, value: float | str | bool, unit: str | None, source: SourceRef | None) -> InputUsed:
        return InputUsed(name=name, value=value, unit=unit, source=source, stale=self._stale(source))

    def _lab(self, name: str, lab: LabValue, as_name: str | None = None) -> InputUsed:
        reference = lab.source.reference
        try:
            converted = convert(name, lab.value, lab.unit, reference)
        except ImpossibleValueError:
            shown = f"{lab.value:g} {lab.unit}".strip()
            raise _Rejected(f"{name} rejected as impossible ({shown}, {reference})", reference) from None
        except UnknownUnitError:
            raise _Rejected(f"{name} rejected: unit {lab.unit!r} is not supported ({reference})", reference) from None
        return self._used(as_name or name, round(converted.value, 10), converted.unit, lab.source)

    def _resolve(self, name: str) -> list[InputUsed]:
        twin = self.twin
        demo = twin.demographics
        if name in self._answers:
            return [self._answer(name, self._answers[name])]
        if name in _DIRECT_LABS:
            lab = twin.labs.get(name)
            return [self._lab(name, lab)] if lab else []
        if name in _ALTERNATIVES:
            first: _Rejected | None = None
            for lab_name in _ALTERNATIVES[name]:
                if lab_name in twin.labs:
                    try:
                        return [self._lab(lab_name, twin.labs[lab_name], as_name=name)]
                    except _Rejected as rejected:  # a plausible alternative (plain CRP for hs-CRP) still serves
                        first = first or rejected
            if first is not None:
                raise first
            return []
        if name == "age":
            age = demo.age_on(self.on)
            if age is None:
                return []
            if demo.birth_date is not None and (demo.birth_date > self.on or age > MAX_AGE_YEARS):
                reference = demo.source.reference if demo.source else "Patient"
                why = "in the future" if demo.birth_date > self.on else f"implies age {age:.0f}"
                raise _Rejected(f"birth date invalid ({why}, {reference})", reference)
            return [self._used("age", age, "a", demo.source)]
        if name == "sex":
            known = demo.gender in ("male", "female")
            return [self._used("sex", demo.gender, None, demo.source)] if known else []
        if name == "race":
            return [] if demo.race is None else [self._used("race", demo.race, None, demo.source)]
        if name == "smoking":
            if twin.smoking in ("current", "former", "never"):
                return [self._used("smoking", twin.smoking == "current", None, twin.smoking_source)]
            return []
        if name == "diabetes":
            for cond in twin.conditions:
                if is_diabetes(cond.system, cond.code):
                    return [self._used("diabetes", True, None, cond.source)]
            return [self._used("diabetes", False, None, None)]
        if name in ("bp_treated", "statin"):
            cls = "antihypertensive" if name == "bp_treated" else "statin"
            for med in twin.medications:
                if med.status in _CURRENT and cls in drug_classes(med.rxnorm, med.display):
                    return [self._used(name, True, None, med.source)]
            return [self._used(name, False, None, None)]
        if name == "bmi":
            return self._bmi()
        if name == "egfr":
            return self._egfr()
        if name == "high_glucose_history":
            return self._high_glucose()
        return []

    def _bmi(self) -> list[InputUsed]:
        labs = self.twin.labs
        if "bmi" in labs:
            return [self._lab("bmi", labs["bmi"])]
        if "body_weight" in labs and "body_height" in labs:
            weight = self._lab("body_weight", labs["body_weight"])
            height = self._lab("body_height", labs["body_height"])
            bmi = float(weight.value) / (float(height.value) / 100.0) ** 2
            derived = self._used("bmi", round(bmi, 4), "kg/m2", None)
            derived.stale = weight.stale or height.stale
            return [derived, weight, height]
        return []

    def _egfr(self) -> list[InputUsed]:
        labs = self.twin.labs
        if "egfr" in labs:
            return [self._lab("egfr", labs["egfr"])]
        age, sex = self.get("age"), self.get("sex")
        if "creatinine" in labs and age is not None and sex is not None:
            creat = self._lab("creatinine", labs["creatinine"])
            value = egfr_mod.ckd_epi_2021(float(creat.value), float(age.value), str(sex.value))
            derived = self._used("egfr", round(value, 4), "mL/min/{1.73_m2}", None)
            derived.stale = creat.stale
            return [derived, creat]
        return []

    def _high_glucose(self) -> list[InputUsed]:
        hba1c = self.get("hba1c")
        if hba1c is not None and float(hba1c.value) >= _HBA1C_HIGH:
            return [self._used("high_glucose_history", True, None, hba1c.source)]
        fasting = self.twin.labs.get("glucose_fasting")
        if fasting is not None:
            used = self._lab("glucose_fasting", fasting)
            if float(used.value) >= _FASTING_GLUCOSE_HIGH:
                return [self._used("high_glucose_history", True, None, used.source)]
        return []

    def _answer(self, name: str, value: Any) -> InputUsed:
        if name == "family_history_diabetes":
            if value not in _FAMILY:
                raise CaseInputError(f"must be one of {', '.join(_FAMILY)} (got {value!r})", location=name)
            return self._used(name, str(value), None, None)
        if isinstance(value, bool):
            return self._used(name, value, None, None)
        raise CaseInputError(f"must be true or false (got {value!r})", location=name)
