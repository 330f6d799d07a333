"""``assess``: every equation the twin's inputs allow, each with its status, inputs and provenance."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from services.common.twin import InputUsed, RiskResult, Twin
from services.risk import findrisc, pce, phenoage, prevent
from services.risk._data import citation_url, load, model_card
from services.risk._inputs import InputSet
from services.risk.phenoage import CrpTransform

__all__ = ["DEFAULT_MAX_AGE_DAYS", "assess", "assess_inputs", "rejected_inputs"]

DEFAULT_MAX_AGE_DAYS = 365
"""Inputs older than this many days are flagged ``stale`` (services pass Settings.risk_result_max_age_days)."""


def _result(model: str, outcome: str, *, version: str | None = None, **fields: Any) -> RiskResult:
    return RiskResult(
        model=model,
        outcome=outcome,
        model_version=version or load(model)["version"],
        citation=citation_url(model),
        model_card=model_card(model),
        **fields,
    )


def _check(
    model: str, outcome: str, inputs: InputSet, names: tuple[str, ...], unit: str, horizon: int | None
) -> tuple[list[InputUsed], RiskResult | None]:
    """Inputs used, and a not-applicable (rejected inputs) or missing-inputs result when some are absent."""
    used, missing = inputs.gather(names)
    rejected = inputs.rejection(names)
    if rejected:
        return used, _result(
            model,
            outcome,
            status="not-applicable",
            reason=rejected,
            missing=[m for m in missing if m not in inputs.rejected],
            inputs=used,
            unit=unit,
            horizon_years=horizon,
        )
    if missing:
        return used, _result(
            model, outcome, status="missing-inputs", missing=missing, inputs=used, unit=unit, horizon_years=horizon
        )
    return used, None


def _prevent(inputs: InputSet) -> list[RiskResult]:
    results = []
    for outcome in prevent.OUTCOMES:
        years = prevent.horizon(outcome)
        used, early = _check("prevent", outcome, inputs, prevent.required_inputs(outcome), "probability", years)
        if early:
            results.append(early)
            continue
        v = inputs.value
        heart_failure = outcome.startswith("heart_failure")
        x = prevent.PreventInputs(
            age=v("age"),
            sex=v("sex"),
            sbp=v("systolic_bp"),
            bp_treated=v("bp_treated"),
            diabetes=v("diabetes"),
            smoker=v("smoking"),
            egfr=v("egfr"),
            total_chol=None if heart_failure else v("total_cholesterol"),
            hdl=None if heart_failure else v("hdl_cholesterol"),
            statin=False if heart_failure else v("statin"),
            bmi=v("bmi") if heart_failure else None,
        )
        reason = prevent.inapplicable(x, outcome)
        common: dict[str, Any] = {"inputs": used, "horizon_years": years}
        if reason:
            results.append(_result("prevent", outcome, status="not-applicable", reason=reason, **common))
        else:
            results.append(_result("prevent", outcome, value=prevent.risk(x, outcome), **common))
    return results


def _pce(inputs: InputSet) -> list[RiskResult]:
    used, early = _check("pce", "ascvd_10y", inputs, pce.REQUIRED, "probability", 10)
    if early:
        return [early]
    v = inputs.value
    x = pce.PceInputs(
        age=v("age"),
        sex=v("sex"),
        race=v("race"),
        total_chol=v("total_cholesterol"),
        hdl=v("hdl_cholesterol"),
        sbp=v("systolic_bp"),
        bp_treated=v("bp_treated"),
        smoker=v("smoking"),
        diabetes=v("diabetes"),
    )
    reason = pce.inapplicable(x)
    if reason:
        return [_result("pce", "ascvd_10y", status="not-applicable", reason=reason, inputs=used, horizon_years=10)]
    return [_result("pce", "ascvd_10y", value=pce.risk(x), inputs=used, horizon_years=10)]


def _phenoage(inputs: InputSet, crp_transform: CrpTransform, denominator: float | None) -> list[RiskResult]:
    outcomes = ("phenoage_years", "phenoage_difference_years")
    used, early = _check("phenoage", outcomes[0], inputs, phenoage.REQUIRED, "years", None)
    if early is not None:  # both outcomes rest on the same inputs
        return [early, early.model_copy(update={"outcome": outcomes[1]}, deep=True)]
    v = inputs.value
    reason = phenoage.inapplicable(v("age"))
    if reason:
        return [
            _result("phenoage", o, status="not-applicable", reason=reason, inputs=used, unit="years") for o in outcomes
        ]
    x = phenoage.PhenoAgeInputs(
        age=v("age"),
        albumin_g_l=v("albumin"),
        creatinine_umol_l=v("creatinine"),
        glucose_mmol_l=v("glucose"),
        crp_mg_dl=v("crp"),
        lymphocyte_percent=v("lymphocyte_percent"),
        mcv_fl=v("mcv"),
        rdw_percent=v("rdw"),
        alp_u_l=v("alp"),
        wbc=v("wbc"),
    )
    r = phenoage.compute(x, crp_transform=crp_transform, denominator=denominator)
    note = f"ln CRP floored at {phenoage.CRP_FLOOR_MG_DL} mg/dL (below detection)" if r.crp_floored else None
    version = f"{load('phenoage')['version']} (CRP {r.crp_transform}, denominator {r.denominator:g})"
    return [
        _result("phenoage", outcomes[0], version=version, value=r.phenoage, unit="years", inputs=used, reason=note),
        _result(
            "phenoage",
            outcomes[1],
            version=version,
            value=r.phenoage - x.age,
            unit="years",
            inputs=used,
            category="older than chronological age" if r.phenoage > x.age else "younger than chronological age",
            reason=note,
        ),
    ]


_FINDRISC_NEEDS = (
    "age",
    "sex",
    "bmi",
    "waist_circumference",
    "physically_active",
    "vegetables_daily",
    "bp_treated",
    "high_glucose_history",
    "family_history_diabetes",
)


def _findrisc(inputs: InputSet) -> list[RiskResult]:
    if inputs.get("diabetes") is not None and inputs.value("diabetes"):
        return [
            _result(
                "findrisc",
                "findrisc_points",
                status="not-applicable",
                unit="points",
                horizon_years=10,
                reason="FINDRISC screens for undiagnosed type 2 diabetes; the patient has diabetes",
                inputs=inputs.entries("diabetes"),
            )
        ]
    used, early = _check("findrisc", "findrisc_points", inputs, _FINDRISC_NEEDS, "points", 10)
    if early:
        return [early]
    v = inputs.value
    x = findrisc.FindriscInputs(
        age=v("age"),
        bmi=v("bmi"),
        waist_cm=v("waist_circumference"),
        sex=v("sex"),
        physically_active=v("physically_active"),
        vegetables_daily=v("vegetables_daily"),
        antihypertensive=v("bp_treated"),
        high_glucose_history=v("high_glucose_history"),
        family_history=v("family_history_diabetes"),
    )
    total = findrisc.points(x)
    return [
        _result(
            "findrisc",
            "findrisc_points",
            value=float(total),
            unit="points",
            horizon_years=10,
            category=findrisc.category(total),
            inputs=used,
        )
    ]


def assess_inputs(
    inputs: InputSet, *, crp_transform: CrpTransform = "ln", phenoage_denominator: float | None = None
) -> list[RiskResult]:
    """All models on an already built :class:`InputSet` (used by ``what_if``)."""
    return [
        *_prevent(inputs),
        *_pce(inputs),
        *_phenoage(inputs, crp_transform, phenoage_denominator),
        *_findrisc(inputs),
    ]


def assess(
    twin: Twin,
    *,
    on: date | None = None,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    answers: Mapping[str, Any] | None = None,
    crp_transform: CrpTransform = "ln",
    phenoage_denominator: float | None = None,
) -> list[RiskResult]:
    """Every risk equation the twin's inputs allow, as of ``on`` (default: today, UTC).

    Returns, in a fixed order, PREVENT base (total CVD, ASCVD, heart failure at 10 and 30 years), PCE
    10-year ASCVD, PhenoAge (years, and difference from chronological age) and FINDRISC points. Each
    result has status ``ok``, ``not-applicable`` (with ``reason``) or ``missing-inputs`` (with ``missing``
    names), and lists the inputs used with their source and a ``stale`` flag (older than
    ``max_age_days``). ``answers`` carries questionnaire items no FHIR code holds (FINDRISC:
    ``physically_active``, ``vegetables_daily``, ``family_history_diabetes`` none/second_degree/first_degree,
    ``high_glucose_history``).

    A lab a model reads that cannot be converted or cannot be real, and a birth date in the future or
    implying an age over 130, are *rejected*: each model needing that input is ``not-applicable`` with
    the reason naming the value and its source (``total_cholesterol rejected as impossible (5000 mg/dL,
    Observation/tc)``); every other model is still computed. :func:`rejected_inputs` lists them.
    """
    when = on or datetime.now(UTC).date()
    inputs = InputSet(twin, on=when, max_age_days=max_age_days, answers=answers)
    return assess_inputs(inputs, crp_transform=crp_transform, phenoage_denominator=phenoage_denominator)


_EVERY_INPUT = (
    *prevent.required_inputs("total_cvd_10y"),
    *pce.REQUIRED,
    *phenoage.REQUIRED,
    *_FINDRISC_NEEDS,
    "bmi",
    "hba1c",
)


def rejected_inputs(twin: Twin, *, on: date | None = None) -> list[tuple[str, str]]:
    """``(source reference, reason)`` of each twin value :func:`assess` leaves out as unusable.

    Ingest lists these as skipped resources, so the data steward sees which Observation to correct.
    """
    inputs = InputSet(twin, on=on or datetime.now(UTC).date(), max_age_days=DEFAULT_MAX_AGE_DAYS)
    for name in dict.fromkeys(_EVERY_INPUT):
        inputs.entries(name)
    seen: dict[tuple[str, str], None] = {}
    for reason, reference in inputs.rejected.values():
        seen[(reference, reason)] = None
    return list(seen)
