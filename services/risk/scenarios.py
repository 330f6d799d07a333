"""What-if scenarios: recompute every result with some inputs changed, and report the differences.

Changes (values in these units, booleans for flags):

=================  =========================================================
``systolic_bp``    mm[Hg]
``smoking``        true/false, or "current" / "former" / "never"
``statin``         true/false (adds or removes statin therapy)
``total_cholesterol``, ``hdl_cholesterol``  mg/dL
``bmi``            kg/m2
``hba1c``          %
``glucose``        mg/dL
=================  =========================================================

Changed labs enter the twin as values from a ``Scenario`` source, so the inputs of the "after"
results show which were hypothetical.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from services.common.twin import LabValue, MedicationFact, RiskResult, SourceRef, Twin
from services.risk._assess import DEFAULT_MAX_AGE_DAYS, assess_inputs
from services.risk._inputs import InputSet
from services.risk.drugs import drug_classes
from services.risk.errors import CaseInputError

__all__ = ["CHANGEABLE", "ScenarioDelta", "what_if"]

CHANGEABLE: Final[dict[str, tuple[str, str]]] = {
    "systolic_bp": ("8480-6", "mm[Hg]"),
    "total_cholesterol": ("2093-3", "mg/dL"),
    "hdl_cholesterol": ("2085-9", "mg/dL"),
    "bmi": ("39156-5", "kg/m2"),
    "hba1c": ("4548-4", "%"),
    "glucose": ("2345-7", "mg/dL"),
}
"""Lab changes: name -> (LOINC code, unit of the new value)."""
_FLAGS: Final = ("smoking", "statin")
_STATIN_RXCUI: Final = "83367"  # atorvastatin, the reference statin of a hypothetical start


class ScenarioDelta(BaseModel):
    """One result before and after the changes; ``difference`` = after - before (None unless both ok)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    outcome: str
    unit: str
    before: float | None
    after: float | None
    difference: float | None = Field(description="after - before, in the result's unit.")
    status_before: str
    status_after: str
    reason: str | None = Field(None, description="Why 'after' is not a number (not applicable / missing inputs).")


def _scenario_source(name: str, on: date) -> SourceRef:
    return SourceRef(resource_type="Scenario", id=name, date=datetime(on.year, on.month, on.day, tzinfo=UTC))


def _changed_twin(twin: Twin, changes: Mapping[str, float | bool | str], on: date) -> Twin:
    changed = twin.model_copy(deep=True)
    for name, new in changes.items():
        if name in CHANGEABLE:
            if isinstance(new, bool) or not isinstance(new, int | float):
                raise CaseInputError(f"must be a number (got {new!r})", location=name)
            code, unit = CHANGEABLE[name]
            lab = LabValue(name=name, code=code, value=float(new), unit=unit, source=_scenario_source(name, on))
            changed.labs[name] = lab
            # Alternatives that would otherwise take precedence go, so the new value is the one read.
            for shadow in {"glucose": ("glucose_fasting",), "hba1c": ("hba1c_ifcc",)}.get(name, ()):
                changed.labs.pop(shadow, None)
        elif name == "smoking":
            if isinstance(new, bool):
                changed.smoking = "current" if new else "never"
            elif new in ("current", "former", "never"):
                changed.smoking = new  # type: ignore[assignment]
            else:
                raise CaseInputError(f"must be true/false or current/former/never (got {new!r})", location=name)
            changed.smoking_source = _scenario_source(name, on)
        elif name == "statin":
            if not isinstance(new, bool):
                raise CaseInputError(f"must be true or false (got {new!r})", location=name)
            changed.medications = [m for m in changed.medications if "statin" not in drug_classes(m.rxnorm, m.display)]
            if new:
                changed.medications.append(
                    MedicationFact(
                        rxnorm=_STATIN_RXCUI, display="atorvastatin", status="active", source=_scenario_source(name, on)
                    )
                )
        else:
            known = ", ".join([*CHANGEABLE, *_FLAGS])
            raise CaseInputError(f"cannot be changed in a scenario (changeable: {known})", location=name)
    return changed


def _delta(before: RiskResult, after: RiskResult) -> ScenarioDelta:
    both = before.status == "ok" and after.status == "ok" and before.value is not None and after.value is not None
    reason = None
    if after.status == "not-applicable":
        reason = after.reason
    elif after.status == "missing-inputs":
        reason = "missing: " + ", ".join(after.missing)
    return ScenarioDelta(
        model=before.model,
        outcome=before.outcome,
        unit=before.unit,
        before=before.value,
        after=after.value,
        difference=(after.value - before.value) if both else None,  # type: ignore[operator]
        status_before=before.status,
        status_after=after.status,
        reason=reason,
    )


def what_if(
    twin: Twin,
    changes: Mapping[str, float | bool | str],
    *,
    on: date | None = None,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    answers: Mapping[str, Any] | None = None,
) -> list[ScenarioDelta]:
    """Each result of :func:`assess` before and after ``changes``, with the absolute difference.

    Raises CaseInputError for a change that is not allowed or not of the right type.
    """
    when = on or datetime.now(UTC).date()
    changed = _changed_twin(twin, changes, when)
    before = assess_inputs(InputSet(twin, on=when, max_age_days=max_age_days, answers=answers))
    after = assess_inputs(InputSet(changed, on=when, max_age_days=max_age_days, answers=answers))
    return [_delta(b, a) for b, a in zip(before, after, strict=True)]
