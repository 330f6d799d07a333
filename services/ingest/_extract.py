"""Extractors for the clinical twin inputs: demographics, labs and vitals, conditions, medications, smoking.

Each extractor reads one resource into an :class:`Inputs` accumulator and raises
:class:`MalformedResource` when the resource is present but unusable; the caller reports and skips it.
Labs keep the latest value per canonical name (``services.common.codes.LAB_CODES``) in the unit the
lab sent; blood-pressure panels contribute their components.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast

from services.common import codes
from services.common.twin import ConditionFact, Demographics, GenotypeInput, LabValue, MedicationFact, SourceRef
from services.risk._inputs import MAX_AGE_YEARS  # one limit: ingest lists what risk will reject

from ._refs import split_reference
from ._resource import (
    Resource,
    codings,
    concept_text,
    effective_time,
    parse_datetime,
    quantity,
    reference_of,
    reference_target,
    source_ref,
    status_code,
)
from .errors import MalformedResource

_OMB_RACE = {code: category for category, (code, _) in codes.OMB_RACE_CODES.items()}
_UNUSABLE_OBSERVATION = frozenset({"entered-in-error", "cancelled", "registered"})
_ACTIVE_CONDITION = frozenset({"active", "recurrence", "relapse"})
_REFUTED = frozenset({"refuted", "entered-in-error"})
_ACTIVE_MEDICATION = frozenset({"active", "on-hold", "intended"})
_PREFERRED_CONDITION_SYSTEMS = (codes.SNOMED, codes.ICD10_CM, codes.ICD10)

Smoking = Literal["current", "former", "never", "unknown"]

# A value stamped a few minutes ahead comes from a clock out of step; beyond that it is a data error
# (2099-01-01), and must never become the "newest" value. A date without a time reads as midnight UTC,
# yet "today" in UTC+14 is already tomorrow's date: such values get those 14 hours more.
CLOCK_SKEW = timedelta(minutes=5)
_DATE_ONLY_SLACK = timedelta(hours=14)


def _now() -> datetime:
    return datetime.now(UTC)


def reject_future(resource: Resource, when: datetime | None) -> None:
    """Raise MalformedResource when the resource's effective time is in the future (beyond clock skew)."""
    if when is None:
        return
    limit = _now() + CLOCK_SKEW
    if when.utcoffset() == timedelta(0) and when.hour == when.minute == when.second == when.microsecond == 0:
        limit += _DATE_ONLY_SLACK
    if when > limit:
        raise MalformedResource(reference_of(resource), "effective time is in the future; value not used")


def _check_birth_date(where: str, birth: date) -> None:
    today = _now().date()
    if birth > today:
        raise MalformedResource(where, "Patient.birthDate is invalid (in the future); age-based results not computed")
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if years > MAX_AGE_YEARS:
        raise MalformedResource(
            where,
            f"Patient.birthDate is invalid (implies age {years}, over {MAX_AGE_YEARS}); age-based results not computed",
        )


@dataclass
class Inputs:
    """Everything extracted for one patient, before pgx and risk run."""

    demographics: Demographics = field(default_factory=Demographics)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (reference, reason) of values kept aside
    labs: dict[str, LabValue] = field(default_factory=dict)
    lab_times: dict[str, datetime | None] = field(default_factory=dict)
    pending_labs: dict[str, tuple[str, tuple[float, str], Resource, datetime | None]] = field(default_factory=dict)
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    smoking: Smoking | None = None
    smoking_source: SourceRef | None = None
    genotype_inputs: list[GenotypeInput] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def _later(new: datetime | None, old: datetime | None) -> bool:
    if old is None:
        return True
    return new is not None and new >= old


def extract_patient(resource: Resource, inputs: Inputs) -> None:
    """Gender, birth date and US Core OMB race category."""
    where = reference_of(resource)
    gender = resource.get("gender", "unknown")
    if gender not in ("male", "female", "other", "unknown"):
        raise MalformedResource(where, "gender is not an administrative-gender code")
    birth: date | None = None
    if "birthDate" in resource:
        parsed = parse_datetime(resource["birthDate"], where=where, element="birthDate")
        birth = parsed.date() if parsed else None
        if birth is not None:
            try:
                _check_birth_date(where, birth)
            except MalformedResource as exc:
                # Kept on the twin, so risk says "birth date invalid" rather than "age missing"; risk
                # rejects it itself and reports it too.
                inputs.problems.append((exc.reference, exc.reason))
    race: str | None = None
    for extension in resource.get("extension", []) or []:
        if not isinstance(extension, dict) or extension.get("url") != codes.US_CORE_RACE:
            continue
        for part in extension.get("extension", []) or []:
            coding = part.get("valueCoding") if isinstance(part, dict) else None
            if isinstance(part, dict) and part.get("url") == "ombCategory" and isinstance(coding, dict):
                race = _OMB_RACE.get(str(coding.get("code")), "other")
                break
    inputs.demographics = Demographics(
        gender=gender,
        birth_date=birth,
        race=cast("Literal['white', 'black', 'other'] | None", race),
        source=source_ref(resource),
    )
    inputs.used.add(where)


def extract_observation_values(resource: Resource, inputs: Inputs) -> None:
    """Coded labs and vitals (value or components) and smoking status."""
    where = resource  # the reference is built only if an error needs it
    if resource.get("status") in _UNUSABLE_OBSERVATION:
        return
    when = effective_time(resource)
    reject_future(resource, when)
    code_list = list(codings(resource.get("code"), where=where, element="code"))
    if any(code == codes.SMOKING_STATUS for _, code, _ in code_list):
        _smoking(resource, inputs, when)
        return
    for system, code, _ in code_list:
        if system in (codes.LOINC, "") and code in codes.LAB_CODES:
            value = quantity(resource.get("valueQuantity"), where=where, element="valueQuantity")
            if value is not None:
                _keep_lab(inputs, codes.LAB_CODES[code], code, value, resource, when)
            break
    components = resource.get("component", [])
    if not isinstance(components, list):
        raise MalformedResource(reference_of(resource), "component is not a list")
    for index, component in enumerate(components):
        if not isinstance(component, dict):
            raise MalformedResource(reference_of(resource), f"component[{index}] is not an object")
        for system, code, _ in codings(component.get("code"), where=where, element=f"component[{index}].code"):
            if system in (codes.LOINC, "") and code in codes.LAB_CODES:
                element = f"component[{index}].valueQuantity"
                value = quantity(component.get("valueQuantity"), where=where, element=element)
                if value is not None:
                    _keep_lab(inputs, codes.LAB_CODES[code], code, value, resource, when)
                break


def _keep_lab(
    inputs: Inputs, name: str, code: str, value: tuple[float, str], resource: Resource, when: datetime | None
) -> None:
    if name in inputs.pending_labs and not _later(when, inputs.lab_times[name]):
        return
    inputs.pending_labs[name] = (code, value, resource, when)  # models are built once, in finish_labs
    inputs.lab_times[name] = when


def finish_labs(inputs: Inputs) -> None:
    """Turn the latest value of each lab into a LabValue."""
    for name, (code, value, resource, when) in inputs.pending_labs.items():
        inputs.labs[name] = LabValue(
            name=name, code=code, value=value[0], unit=value[1], source=source_ref(resource, when=when)
        )
        inputs.used.add(reference_of(resource))
    inputs.pending_labs.clear()


def _smoking(resource: Resource, inputs: Inputs, when: datetime | None) -> None:
    where = reference_of(resource)
    answer: str | None = None
    for _, code, _ in codings(resource.get("valueCodeableConcept"), where=where, element="valueCodeableConcept"):
        if code in codes.SMOKING_ANSWERS:
            answer = codes.SMOKING_ANSWERS[code]
            break
    if answer is None:
        raise MalformedResource(where, "smoking status answer is not a known LOINC/SNOMED code")
    previous = inputs.smoking_source.date if inputs.smoking_source else None
    if inputs.smoking_source is not None and not _later(when, previous):
        return
    inputs.smoking = cast("Smoking", answer)
    inputs.smoking_source = source_ref(resource, when=when)
    inputs.used.add(where)


def extract_condition(resource: Resource, inputs: Inputs) -> None:
    """An active, not refuted Condition, coded in SNOMED CT or ICD-10 where possible."""
    where = reference_of(resource)
    clinical = status_code(resource.get("clinicalStatus"))
    verification = status_code(resource.get("verificationStatus"))
    if verification in _REFUTED:
        return
    if clinical is not None and clinical not in _ACTIVE_CONDITION:
        return
    if clinical is None and ("abatementDateTime" in resource or "abatementPeriod" in resource):
        return
    found = list(codings(resource.get("code"), where=where, element="code"))
    if not found:
        raise MalformedResource(where, "Condition.code has no coding")
    chosen = next(((s, c, d) for s, c, d in found if codes.is_diabetes(s, c)), None)
    if chosen is None:
        for system in _PREFERRED_CONDITION_SYSTEMS:
            chosen = next(((s, c, d) for s, c, d in found if s == system), None)
            if chosen is not None:
                break
    system, code, display = chosen or found[0]
    when = effective_time(resource)
    inputs.conditions.append(
        ConditionFact(
            system=system,
            code=code,
            display=display or concept_text(resource.get("code")),
            source=source_ref(resource, when=when),
        )
    )
    inputs.used.add(where)


def extract_medication(resource: Resource, inputs: Inputs, index: dict[str, Resource]) -> None:
    """An active MedicationRequest or MedicationStatement; RxNorm from the concept or the referenced Medication."""
    where = reference_of(resource)
    status = resource.get("status")
    if status is not None and not isinstance(status, str):
        raise MalformedResource(where, "status is not a code")
    if status not in _ACTIVE_MEDICATION:
        return
    concept = resource.get("medicationCodeableConcept")
    ref = reference_target(resource.get("medicationReference"))
    if concept is None and ref is not None:
        concept = _medication_concept(ref, resource, index)
    if concept is None:
        raise MalformedResource(where, "medication[x] missing or its Medication is not available")
    rxnorm = next(
        (code for system, code, _ in codings(concept, where=where, element="medication") if system == codes.RXNORM),
        None,
    )
    when = effective_time(resource)
    inputs.medications.append(
        MedicationFact(
            rxnorm=rxnorm, display=concept_text(concept), status=status, source=source_ref(resource, when=when)
        )
    )
    inputs.used.add(where)


def _medication_concept(ref: str, resource: Resource, index: dict[str, Resource]) -> object:
    if ref.startswith("#"):
        for contained in resource.get("contained", []) or []:
            if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                return contained.get("code")
        return None
    target = split_reference(ref)
    if target is None:
        return None
    rtype, rid = target
    medication = index.get(f"{rtype or 'Medication'}/{rid}")
    return medication.get("code") if medication else None
