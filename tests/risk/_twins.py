"""Twin builders for risk tests (plain functions, no fixtures)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.common.codes import SNOMED
from services.common.twin import ConditionFact, Demographics, LabValue, MedicationFact, SourceRef, Twin

ON = date(2026, 6, 1)
RECENT = datetime(2026, 5, 1, tzinfo=UTC)

_CODES = {
    "total_cholesterol": "2093-3",
    "hdl_cholesterol": "2085-9",
    "systolic_bp": "8480-6",
    "bmi": "39156-5",
    "egfr": "98979-8",
    "creatinine": "2160-0",
    "waist_circumference": "8280-0",
    "albumin": "1751-7",
    "glucose": "2345-7",
    "glucose_fasting": "1558-6",
    "crp": "1988-5",
    "hs_crp": "30522-7",
    "lymphocyte_percent": "736-9",
    "mcv": "787-2",
    "rdw": "788-0",
    "alp": "6768-6",
    "wbc": "6690-2",
    "hba1c": "4548-4",
    "body_weight": "29463-7",
    "body_height": "8302-2",
}


def obs(name: str, value: float, unit: str, *, when: datetime = RECENT, oid: str | None = None) -> LabValue:
    """A LabValue from Observation/<name>-1 (or ``oid``)."""
    source = SourceRef(resource_type="Observation", id=oid or f"{name}-1", version="1", date=when)
    return LabValue(name=name, code=_CODES[name], value=value, unit=unit, source=source)


def twin(
    *,
    age: int = 50,
    gender: str = "female",
    race: str | None = "white",
    labs: dict[str, tuple[float, str]] | None = None,
    diabetes: bool = False,
    meds: list[tuple[str | None, str]] | None = None,
    smoking: str | None = "never",
    **extra: Any,
) -> Twin:
    """A twin aged ``age`` on :data:`ON`, with labs given as name -> (value, unit)."""
    patient = SourceRef(resource_type="Patient", id="p1", version="1")
    demographics = Demographics(
        gender=gender,  # type: ignore[arg-type]
        birth_date=date(ON.year - age, 1, 15),
        race=race,  # type: ignore[arg-type]
        source=patient,
    )
    conditions = []
    if diabetes:
        conditions.append(
            ConditionFact(
                system=SNOMED,
                code="44054006",
                display="Diabetes mellitus type 2",
                source=SourceRef(resource_type="Condition", id="dm-1"),
            )
        )
    medications = [
        MedicationFact(
            rxnorm=code,
            display=display,
            status="active",
            source=SourceRef(resource_type="MedicationRequest", id=f"med-{i}"),
        )
        for i, (code, display) in enumerate(meds or [])
    ]
    return Twin(
        server="local:test",
        patient_id="p1",
        demographics=demographics,
        labs={name: obs(name, v, u) for name, (v, u) in (labs or {}).items()},
        conditions=conditions,
        medications=medications,
        smoking=smoking,  # type: ignore[arg-type]
        smoking_source=SourceRef(resource_type="Observation", id="smoke-1", date=RECENT),
        **extra,
    )


PREVENT_1_LABS = {
    "systolic_bp": (160.0, "mm[Hg]"),
    "total_cholesterol": (5.172, "mmol/L"),
    "hdl_cholesterol": (1.1637, "mmol/L"),
    "egfr": (90.0, "mL/min/{1.73_m2}"),
    "bmi": (35.0, "kg/m2"),
}
LISINOPRIL = ("29046", "lisinopril")

# Expected PREVENT-1 results (shared/data/risk/cases/prevent_base.json) and the PhenoAge-10 case labs.
PREVENT_1 = {
    "total_cvd_10y": 0.146839,
    "ascvd_10y": 0.091951,
    "heart_failure_10y": 0.080561,
    "total_cvd_30y": 0.529850,
    "ascvd_30y": 0.354255,
    "heart_failure_30y": 0.389602,
}

PHENO_10_LABS = {
    "albumin": (3.8, "g/dL"),
    "creatinine": (0.776, "mg/dL"),
    "glucose": (152.0, "mg/dL"),
    "crp": (2.1, "mg/L"),
    "lymphocyte_percent": (35.0, "%"),
    "mcv": (86.65, "fL"),
    "rdw": (14.05, "%"),
    "alp": (101.0, "U/L"),
    "wbc": (3.8, "10*3/uL"),
}


def prevent_1_twin(**overrides: Any) -> Twin:
    """The PREVENT-1 reference case (female 50, SBP 160 treated, diabetes) as a twin with molar lipids."""
    args: dict[str, Any] = {
        "age": 50,
        "gender": "female",
        "labs": dict(PREVENT_1_LABS),
        "diabetes": True,
        "meds": [LISINOPRIL],
        "smoking": "never",
    }
    args.update(overrides)
    return twin(**args)
