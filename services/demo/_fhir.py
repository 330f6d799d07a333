"""FHIR R4 resources of one synthetic patient, as plain dicts (serialised with orjson by the caller).

Coding follows what an EHR sends: LOINC + UCUM for labs and vitals, SNOMED CT for conditions and
smoking status, RxNorm clinical drugs for prescriptions, US Core race, and the Genomics Reporting IG
(genotype 84413-4 with gene 48018-6 / HGNC) for reported genotypes. VCFs travel inline (base64) on a
DocumentReference, as a lab portal would attach them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta
from typing import Any

from services.common.codes import (
    CDC_RACE_ETHNICITY,
    HGNC,
    LOINC,
    OMB_RACE_CODES,
    RXNORM,
    SMOKING_STATUS,
    SNOMED,
    UCUM,
    US_CORE_RACE,
)

from ._design import AS_OF, Lab, PatientPlan

Resource = dict[str, Any]

_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_GENOMICS_PROFILE = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"
_UUID_NAMESPACE = uuid.UUID("6f1c0b7e-5d0a-4c59-9b57-2f1f6f0c9a11")

HGNC_IDS: dict[str, str] = {
    "CYP2C19": "HGNC:2621",
    "CYP2C9": "HGNC:2623",
    "CYP2D6": "HGNC:2625",
    "CYP3A5": "HGNC:2638",
    "CYP4F2": "HGNC:2645",
    "DPYD": "HGNC:3012",
    "NUDT15": "HGNC:23063",
    "SLCO1B1": "HGNC:10959",
    "TPMT": "HGNC:12014",
    "UGT1A1": "HGNC:12530",
    "VKORC1": "HGNC:23663",
}
_SMOKING_CODES = {
    "never": ("266919005", "Never smoker"),
    "former": ("8517006", "Ex-smoker"),
    "current": ("449868002", "Smokes tobacco daily"),
}
_HYPERTENSION = ("38341003", "Hypertensive disorder, systemic arterial (disorder)")
_DIABETES = ("44054006", "Diabetes mellitus type 2 (disorder)")


def full_url(resource_type: str, resource_id: str) -> str:
    """A stable ``urn:uuid`` for a resource (the same id always gives the same URN)."""
    return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, f'{resource_type}/{resource_id}')}"


def _instant(days_ago: int, hour: int = 9) -> str:
    return f"{(AS_OF - timedelta(days=days_ago)).isoformat()}T{hour:02d}:30:00Z"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _category(code: str, system: str = _OBS_CATEGORY) -> list[dict[str, Any]]:
    return [{"coding": [_coding(system, code)]}]


def patient(plan: PatientPlan) -> Resource:
    """The Patient, with a US Core race extension (used by the pooled cohort equations)."""
    c = plan.clinical
    resource: Resource = {
        "resourceType": "Patient",
        "id": plan.id,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": [{"system": "urn:twinrx:demo:mrn", "value": f"DEMO{plan.index + 1:05d}"}],
        "name": [{"use": "official", "family": c.family, "given": [c.given]}],
        "gender": c.sex,
        "birthDate": c.birth_date.isoformat(),
    }
    race = OMB_RACE_CODES.get(c.race)
    if race:
        resource["extension"] = [
            {
                "url": US_CORE_RACE,
                "extension": [
                    {"url": "ombCategory", "valueCoding": _coding(CDC_RACE_ETHNICITY, race[0], race[1])},
                    {"url": "text", "valueString": race[1]},
                ],
            }
        ]
    return resource


def _subject(plan: PatientPlan) -> dict[str, str]:
    return {"reference": f"Patient/{plan.id}"}


def lab_observation(plan: PatientPlan, lab: Lab) -> Resource:
    """A final, coded lab or vital-sign Observation with a UCUM quantity."""
    return {
        "resourceType": "Observation",
        "id": f"{plan.id}-{lab.code}",
        "status": "final",
        "category": _category(lab.category),
        "code": {"coding": [_coding(LOINC, lab.code, lab.display)], "text": lab.display},
        "subject": _subject(plan),
        "effectiveDateTime": _instant(lab.days_ago),
        "valueQuantity": {"value": lab.value, "unit": lab.unit, "system": UCUM, "code": lab.unit},
    }


def blood_pressure(plan: PatientPlan) -> Resource:
    """A blood-pressure panel (85354-9) with systolic and diastolic components."""
    systolic, diastolic = plan.clinical.blood_pressure

    def component(code: str, display: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [_coding(LOINC, code, display)]},
            "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": f"{plan.id}-bp",
        "status": "final",
        "category": _category("vital-signs"),
        "code": {"coding": [_coding(LOINC, "85354-9", "Blood pressure panel with all children optional")]},
        "subject": _subject(plan),
        "effectiveDateTime": _instant(7),
        "component": [
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    }


def smoking_status(plan: PatientPlan) -> Resource:
    """Tobacco smoking status (72166-2) answered with SNOMED CT."""
    code, display = _SMOKING_CODES[plan.clinical.smoking]
    return {
        "resourceType": "Observation",
        "id": f"{plan.id}-smoking",
        "status": "final",
        "category": _category("social-history"),
        "code": {"coding": [_coding(LOINC, SMOKING_STATUS, "Tobacco smoking status")]},
        "subject": _subject(plan),
        "effectiveDateTime": _instant(30),
        "valueCodeableConcept": {"coding": [_coding(SNOMED, code, display)], "text": display},
    }


def conditions(plan: PatientPlan) -> list[Resource]:
    """Active, confirmed problem-list Conditions (type 2 diabetes, hypertension)."""
    out: list[Resource] = []
    for present, (code, display), tag, years in (
        (plan.clinical.diabetes, _DIABETES, "diabetes", 6),
        (plan.clinical.hypertension, _HYPERTENSION, "hypertension", 4),
    ):
        if not present:
            continue
        out.append(
            {
                "resourceType": "Condition",
                "id": f"{plan.id}-{tag}",
                "clinicalStatus": {"coding": [_coding(_CONDITION_CLINICAL, "active")]},
                "verificationStatus": {"coding": [_coding(_CONDITION_VERIFICATION, "confirmed")]},
                "category": _category("problem-list-item", _CONDITION_CATEGORY),
                "code": {"coding": [_coding(SNOMED, code, display)], "text": display},
                "subject": _subject(plan),
                "onsetDateTime": _instant(365 * years),
            }
        )
    return out


def medication_requests(plan: PatientPlan) -> list[Resource]:
    """Active outpatient prescriptions coded with RxNorm clinical drugs."""
    return [
        {
            "resourceType": "MedicationRequest",
            "id": f"{plan.id}-rx-{med.rxcui}",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [_coding(RXNORM, med.rxcui, med.display)], "text": med.display},
            "subject": _subject(plan),
            "authoredOn": _instant(200),
            "dosageInstruction": [{"text": "1 tablet by mouth daily"}],
        }
        for med in plan.clinical.medications
    ]


def genotype_observation(plan: PatientPlan, gene: str, diplotype: tuple[str, str]) -> Resource:
    """A Genomics Reporting genotype Observation: LOINC 84413-4, gene component 48018-6 (HGNC)."""
    text = f"{gene} {diplotype[0]}/{diplotype[1]}"
    return {
        "resourceType": "Observation",
        "id": f"{plan.id}-genotype-{gene.lower()}",
        "meta": {"profile": [_GENOMICS_PROFILE + "genotype"]},
        "status": "final",
        "category": [
            {"coding": [_coding(_OBS_CATEGORY, "laboratory")]},
            {"coding": [_coding("http://terminology.hl7.org/CodeSystem/v2-0074", "GE", "Genetics")]},
        ],
        "code": {"coding": [_coding(LOINC, "84413-4", "Genotype display name")]},
        "subject": _subject(plan),
        "effectiveDateTime": _instant(90),
        "valueCodeableConcept": {"text": text},
        "component": [
            {
                "code": {"coding": [_coding(LOINC, "48018-6", "Gene studied [ID]")]},
                "valueCodeableConcept": {"coding": [_coding(HGNC, HGNC_IDS[gene], gene)]},
            }
        ],
    }


def genomic_report(plan: PatientPlan, results: list[Resource]) -> Resource:
    """The genomic-report DiagnosticReport (51969-4) grouping the genotype Observations."""
    return {
        "resourceType": "DiagnosticReport",
        "id": f"{plan.id}-pgx-report",
        "meta": {"profile": [_GENOMICS_PROFILE + "genomic-report"]},
        "status": "final",
        "category": [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/v2-0074", "GE", "Genetics")]}],
        "code": {"coding": [_coding(LOINC, "51969-4", "Genetic analysis report")]},
        "subject": _subject(plan),
        "effectiveDateTime": _instant(90),
        "issued": _instant(88),
        "result": [{"reference": f"Observation/{r['id']}"} for r in results],
    }


def vcf_document(plan: PatientPlan, vcf_text: str) -> Resource:
    """A DocumentReference carrying the patient's PGx VCF inline (base64), as a lab portal attaches it."""
    data = vcf_text.encode()
    return {
        "resourceType": "DocumentReference",
        "id": f"{plan.id}-pgx-vcf",
        "status": "current",
        "type": {"coding": [_coding(LOINC, "51969-4", "Genetic analysis report")], "text": "PGx panel VCF"},
        "subject": _subject(plan),
        "date": _instant(90),
        "description": "Pharmacogenomic panel, VCF 4.2, GRCh38",
        "content": [
            {
                "attachment": {
                    "contentType": "text/vcf",
                    "title": f"{plan.id}.vcf",
                    "size": len(data),
                    "hash": base64.b64encode(hashlib.sha1(data).digest()).decode(),
                    "data": base64.b64encode(data).decode(),
                }
            }
        ],
    }


def transaction_bundle(resources: list[Resource]) -> Resource:
    """A transaction Bundle that PUTs every resource under its own id (loadable into a FHIR server)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": full_url(r["resourceType"], r["id"]),
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }
