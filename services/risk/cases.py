"""``score_case``: one model on flat, named inputs, in the form of ``shared/data/risk/cases/*.json``.

This is the contract of ``twinrx risk score MODEL --inputs FILE.json``: the result's keys are those of
the reference cases' ``expected`` objects, so a case file can be checked by eye or by diff. Values are
validated with the same unit table as twin labs; a field's name is the error location.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Final

from services.risk import findrisc, pce, phenoage, prevent
from services.risk._data import load
from services.risk.errors import CaseInputError
from services.risk.units import LAB_UNITS, convert, model_unit

__all__ = ["INPUT_KEYS", "MODEL_ALIASES", "OUTPUT_KEYS", "canonical_model", "score_case", "score_case_explained"]

MODEL_ALIASES: Final = {
    "prevent": "prevent",
    "prevent_base": "prevent",
    "pce": "pce",
    "pce_2013": "pce",
    "pce_2013_10y_ascvd": "pce",
    "phenoage": "phenoage",
    "levine2018_phenoage": "phenoage",
    "findrisc": "findrisc",
}

OUTPUT_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "prevent": prevent.OUTCOMES,
    "pce": ("risk_10y_percent",),
    "phenoage": (
        "phenoage_levine_lncrp",
        "phenoage_levine_lncrp_den09165",
        "phenoage_bioage_ln1pcrp",
        "linear_predictor",
        "mortality_score",
        "phenoage_den0090165",
        "phenoage_den009165",
    ),
    "findrisc": ("points", "category"),
}


_TC: Final = ("total_chol_mg_dL", "total_chol_mmol_L")
_HDL: Final = ("hdl_mg_dL", "hdl_mmol_L")
_RISK_FACTORS: Final = ("sbp_mmHg", "bp_treated", "current_smoker", "diabetes")

# The input names each model accepts; anything else in ``inputs`` is an error (a typo must not be
# silently ignored). ``sex`` is accepted by PhenoAge, which does not use it: the reference cases carry it.
INPUT_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "prevent": ("age_years", "sex", *_RISK_FACTORS, "egfr_mL_min_1_73m2", *_TC, *_HDL, "statin", "bmi_kg_m2"),
    "pce": ("age_years", "sex", "race", *_TC, *_HDL, *_RISK_FACTORS),
    "phenoage": (
        "age_years",
        "sex",
        "albumin_g_L",
        "albumin_g_dL",
        "creatinine_umol_L",
        "creatinine_mg_dL",
        "glucose_mmol_L",
        "glucose_mg_dL",
        "ln_crp_mg_dL",
        "crp_mg_dL",
        "crp_mg_L",
        "lymphocyte_percent",
        "mcv_fL",
        "rdw_percent",
        "alp_U_L",
        "wbc_10e3_per_uL",
    ),
    "findrisc": (
        "age_years",
        "sex",
        "bmi_kg_m2",
        "waist_cm",
        "physically_active_30min_daily",
        "vegetables_fruit_daily",
        "antihypertensive_ever",
        "history_high_glucose",
        "family_history_diabetes",
    ),
}


def canonical_model(name: str) -> str:
    """``prevent`` / ``pce`` / ``phenoage`` / ``findrisc`` from a CLI name or a case's ``model`` field."""
    try:
        return MODEL_ALIASES[name.lower()]
    except KeyError:
        raise CaseInputError(
            f"unknown model {name!r} (one of prevent, pce, phenoage, findrisc)", location="model"
        ) from None


class _Fields:
    """Typed access to the case's ``inputs`` with field-named errors."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self.raw = inputs
        self.notes: list[str] = []  # conventions applied to these inputs (a floored CRP), for the caller

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def number(self, key: str) -> float:
        if key not in self.raw:
            raise CaseInputError("is required", location=key)
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CaseInputError(f"must be a number (got {value!r})", location=key)
        return float(value)

    def lab(self, name: str, options: Mapping[str, str]) -> float:
        """The value of ``options`` (field -> unit) present, converted to the model unit of lab ``name``.

        The same lab given twice (``total_chol_mg_dL`` and ``total_chol_mmol_L``) must agree after
        conversion within the rounding of the digits given (5.2 mmol/L is 5.15-5.25); otherwise it is
        an error naming both, never a silent pick.
        """
        given = [(key, unit) for key, unit in options.items() if self.has(key)]
        if not given:
            raise CaseInputError("is required", location=" or ".join(options))
        values = [convert(name, self.number(key), unit, key).value for key, unit in given]
        (first, first_unit), first_value = given[0], values[0]
        for (key, unit), value in zip(given[1:], values[1:], strict=True):
            allowed = self._rounding(name, first, first_unit) + self._rounding(name, key, unit)
            if abs(value - first_value) > allowed + 1e-9 * abs(first_value):
                raise CaseInputError(
                    f"{first} {self.number(first):g} and {key} {self.number(key):g} disagree "
                    f"({first_value:.4g} vs {value:.4g} {model_unit(name)}); give one of them",
                    location=f"{first}, {key}",
                )
        return first_value

    def _rounding(self, name: str, key: str, unit: str) -> float:
        """Half a unit of the last digit given for ``key``, in the model unit of ``name``."""
        raw = self.number(key)
        text = repr(raw) if isinstance(self.raw[key], float) else str(self.raw[key])
        if "e" in text.lower():
            half = abs(raw) * 5e-10
        else:
            decimals = len(text.partition(".")[2].rstrip("0"))
            half = 0.5 * 10.0**-decimals
        to_model = LAB_UNITS[name].accepted[unit]
        return abs(to_model(raw + half) - to_model(raw))

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        if not isinstance(value, bool):
            raise CaseInputError(f"must be true or false (got {value!r})", location=key)
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.raw.get(key)
        if value not in allowed:
            raise CaseInputError(f"must be one of {', '.join(allowed)} (got {value!r})", location=key)
        return str(value)

    def age(self) -> float:
        age = self.number("age_years")
        if not 0 <= age <= 130:
            raise CaseInputError(f"must be between 0 and 130 (got {age:g})", location="age_years")
        return age


def _prevent(f: _Fields) -> tuple[dict[str, Any], dict[str, str]]:
    tc = f.lab("total_cholesterol", {"total_chol_mg_dL": "mg/dL", "total_chol_mmol_L": "mmol/L"})
    hdl = f.lab("hdl_cholesterol", {"hdl_mg_dL": "mg/dL", "hdl_mmol_L": "mmol/L"})
    bmi = convert("bmi", f.number("bmi_kg_m2"), "kg/m2", "bmi_kg_m2").value if f.has("bmi_kg_m2") else None
    x = prevent.PreventInputs(
        age=f.age(),
        sex=f.choice("sex", ("female", "male")),  # type: ignore[arg-type]
        sbp=f.lab("systolic_bp", {"sbp_mmHg": "mm[Hg]"}),
        bp_treated=f.flag("bp_treated"),
        diabetes=f.flag("diabetes"),
        smoker=f.flag("current_smoker"),
        egfr=f.lab("egfr", {"egfr_mL_min_1_73m2": "mL/min/{1.73_m2}"}),
        total_chol=tc,
        hdl=hdl,
        statin=f.flag("statin"),
        bmi=bmi,
    )
    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for outcome in prevent.OUTCOMES:
        if outcome.startswith("heart_failure") and bmi is None:
            reason: str | None = "heart-failure risk needs bmi_kg_m2"
        else:
            reason = prevent.inapplicable(x, outcome)
        out[outcome] = None if reason else round(prevent.risk(x, outcome), 6)
        if reason:
            reasons[outcome] = reason
    return out, reasons


def _pce(f: _Fields) -> tuple[dict[str, Any], dict[str, str]]:
    x = pce.PceInputs(
        age=f.age(),
        sex=f.choice("sex", ("female", "male")),  # type: ignore[arg-type]
        race=f.choice("race", ("white", "black", "other")),  # type: ignore[arg-type]
        total_chol=f.lab("total_cholesterol", {"total_chol_mg_dL": "mg/dL", "total_chol_mmol_L": "mmol/L"}),
        hdl=f.lab("hdl_cholesterol", {"hdl_mg_dL": "mg/dL", "hdl_mmol_L": "mmol/L"}),
        sbp=f.lab("systolic_bp", {"sbp_mmHg": "mm[Hg]"}),
        bp_treated=f.flag("bp_treated"),
        smoker=f.flag("current_smoker"),
        diabetes=f.flag("diabetes"),
    )
    reason = pce.inapplicable(x)
    if reason:
        return {"risk_10y_percent": None}, {"risk_10y_percent": reason}
    return {"risk_10y_percent": round(100.0 * pce.risk(x), 6)}, {}


def _phenoage(f: _Fields) -> tuple[dict[str, Any], dict[str, str]]:
    if f.has("ln_crp_mg_dL"):
        crp = math.exp(f.number("ln_crp_mg_dL"))
    else:
        crp = f.lab("crp", {"crp_mg_dL": "mg/dL", "crp_mg_L": "mg/L"})
    x = phenoage.PhenoAgeInputs(
        age=f.age(),
        albumin_g_l=f.lab("albumin", {"albumin_g_L": "g/L", "albumin_g_dL": "g/dL"}),
        creatinine_umol_l=f.lab("creatinine", {"creatinine_umol_L": "umol/L", "creatinine_mg_dL": "mg/dL"}),
        glucose_mmol_l=f.lab("glucose", {"glucose_mmol_L": "mmol/L", "glucose_mg_dL": "mg/dL"}),
        crp_mg_dl=crp,
        lymphocyte_percent=f.lab("lymphocyte_percent", {"lymphocyte_percent": "%"}),
        mcv_fl=f.lab("mcv", {"mcv_fL": "fL"}),
        rdw_percent=f.lab("rdw", {"rdw_percent": "%"}),
        alp_u_l=f.lab("alp", {"alp_U_L": "U/L"}),
        wbc=f.lab("wbc", {"wbc_10e3_per_uL": "10*3/uL"}),
    )
    if crp < phenoage.CRP_FLOOR_MG_DL and not f.has("ln_crp_mg_dL"):
        given = next(f"{key} {f.number(key):g}" for key in ("crp_mg_dL", "crp_mg_L") if f.has(key))
        f.notes.append(
            f"{given} is below the CRP detection limit: ln CRP uses the floor {phenoage.CRP_FLOOR_MG_DL:g} mg/dL "
            "(0.1 mg/L) in the Levine outputs (phenoage_bioage_ln1pcrp uses ln(1 + CRP), no floor)"
        )
    alt = load("phenoage")["constants"]["denominator_alternative"]
    levine = phenoage.compute(x)
    levine_alt = phenoage.compute(x, denominator=alt)
    bioage = phenoage.compute(x, crp_transform="ln1p")
    return {
        "phenoage_levine_lncrp": round(levine.phenoage, 6),
        "phenoage_levine_lncrp_den09165": round(levine_alt.phenoage, 6),
        "phenoage_bioage_ln1pcrp": round(bioage.phenoage, 6),
        "linear_predictor": round(levine.linear_predictor, 6),
        "mortality_score": round(levine.mortality_score, 8),
        "phenoage_den0090165": round(levine.phenoage, 6),
        "phenoage_den009165": round(levine_alt.phenoage, 6),
    }, {}


def _findrisc(f: _Fields) -> tuple[dict[str, Any], dict[str, str]]:
    x = findrisc.FindriscInputs(
        age=f.age(),
        bmi=convert("bmi", f.number("bmi_kg_m2"), "kg/m2", "bmi_kg_m2").value,
        waist_cm=convert("waist_circumference", f.number("waist_cm"), "cm", "waist_cm").value,
        sex=f.choice("sex", ("female", "male")),  # type: ignore[arg-type]
        physically_active=f.flag("physically_active_30min_daily"),
        vegetables_daily=f.flag("vegetables_fruit_daily"),
        antihypertensive=f.flag("antihypertensive_ever"),
        high_glucose_history=f.flag("history_high_glucose"),
        family_history=f.choice(  # type: ignore[arg-type]
            "family_history_diabetes", ("none", "second_degree", "first_degree")
        ),
    )
    total = findrisc.points(x)
    return {"points": total, "category": findrisc.category(total)}, {}


_SCORERS = {"prevent": _prevent, "pce": _pce, "phenoage": _phenoage, "findrisc": _findrisc}


def score_case(model: str, inputs: Mapping[str, Any], *, keys: Collection[str] | None = None) -> dict[str, Any]:
    """Score one case's ``inputs`` with ``model``; the keys are those of the cases' ``expected`` objects.

    ``keys`` narrows the output to (exactly) those keys, e.g. a case's own ``expected`` keys; an
    unknown key (output or input) is an error. A result outside the model's validated range is
    ``None``; :func:`score_case_explained` also says why.
    """
    return score_case_explained(model, inputs, keys=keys)[0]


def score_case_explained(
    model: str, inputs: Mapping[str, Any], *, keys: Collection[str] | None = None, notes: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`score_case` and, for each ``None`` result, the reason it is not applicable.

    ``notes``, when given, receives the conventions applied to the inputs (e.g. a CRP of 0 floored at
    the detection limit before its log): the number is kept, and the caller says so.
    """
    name = canonical_model(model)
    if not isinstance(inputs, Mapping):
        raise CaseInputError("must be a JSON object", location="inputs")
    known = INPUT_KEYS[name]
    unknown_inputs = [k for k in inputs if k not in known]
    if unknown_inputs:
        listed = ", ".join(repr(k) for k in unknown_inputs)
        raise CaseInputError(
            f"unknown input{'s' if len(unknown_inputs) > 1 else ''} {listed} (known: {', '.join(known)})"
        )
    fields = _Fields(inputs)
    result, reasons = _SCORERS[name](fields)
    if notes is not None:
        notes.extend(fields.notes)
    if keys is None:
        return result, reasons
    unknown = [k for k in keys if k not in result]
    if unknown:
        raise CaseInputError(
            f"model {name} has no output {', '.join(unknown)} (outputs: {', '.join(result)})", location="expected"
        )
    return {k: result[k] for k in keys}, {k: reasons[k] for k in keys if k in reasons}
