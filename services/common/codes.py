"""Code systems and the coded inputs twinrx reads from FHIR.

Source of the LOINC/UCUM input table: ``shared/data/risk/fhir_input_codes.csv`` (LOINC codes are
facts from loinc.org; units are UCUM). Names on the left are the twin's canonical lab names
(``Twin.labs`` keys) used by the risk engine.
"""

from __future__ import annotations

from typing import Final

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGNC: Final = "http://www.genenames.org"
UCUM: Final = "http://unitsofmeasure.org"

# Race as US Core sends it: the us-core-race extension, whose "ombCategory" coding is from the CDC Race
# & Ethnicity code system (OMB categories). Source: HL7 FHIR US Core IG, StructureDefinition-us-core-race
# and ValueSet omb-race-category (https://hl7.org/fhir/us/core/StructureDefinition-us-core-race.html).
US_CORE_RACE: Final = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
CDC_RACE_ETHNICITY: Final = "urn:oid:2.16.840.1.113883.6.238"
# Twin race category -> (OMB category code, display): the categories the race-based pooled cohort
# equations distinguish; any other OMB category reads as "other".
OMB_RACE_CODES: Final[dict[str, tuple[str, str]]] = {
    "white": ("2106-3", "White"),
    "black": ("2054-5", "Black or African American"),
}

# LOINC code -> canonical twin lab name. Several codes may feed one name (mass or molar units);
# the unit travels with the value and the risk engine converts it.
LAB_CODES: Final[dict[str, str]] = {
    "2093-3": "total_cholesterol",
    "14647-2": "total_cholesterol",
    "2085-9": "hdl_cholesterol",
    "14646-4": "hdl_cholesterol",
    "8480-6": "systolic_bp",
    "8462-4": "diastolic_bp",
    "39156-5": "bmi",
    "29463-7": "body_weight",
    "8302-2": "body_height",
    "8280-0": "waist_circumference",
    "98979-8": "egfr",
    "62238-1": "egfr_ckd_epi_2009",
    "33914-3": "egfr_mdrd",
    "4548-4": "hba1c",
    "59261-8": "hba1c_ifcc",
    "9318-7": "uacr",
    "14958-3": "uacr_molar",
    "1751-7": "albumin",
    "2160-0": "creatinine",
    "14682-9": "creatinine",
    "2345-7": "glucose",
    "1558-6": "glucose_fasting",
    "14749-6": "glucose",
    "1988-5": "crp",
    "30522-7": "hs_crp",
    "736-9": "lymphocyte_percent",
    "737-7": "lymphocyte_percent",
    "787-2": "mcv",
    "788-0": "rdw",
    "6768-6": "alp",
    "6690-2": "wbc",
}

SMOKING_STATUS: Final = "72166-2"

# Smoking-status answers (LOINC answer codes and SNOMED CT) -> twin smoking value.
# "Smoker, current status unknown" counts as current: a documented policy, safer for risk estimates.
SMOKING_ANSWERS: Final[dict[str, str]] = {
    "LA18976-3": "current",
    "449868002": "current",
    "LA18977-1": "current",
    "428041000124106": "current",
    "LA18981-3": "current",
    "428071000124103": "current",
    "LA18982-1": "current",
    "428061000124105": "current",
    "LA18979-7": "current",
    "77176002": "current",
    "LA15920-4": "former",
    "8517006": "former",
    "LA18978-9": "never",
    "266919005": "never",
    "LA18980-5": "unknown",
    "266927001": "unknown",
}

# Diabetes mellitus: SNOMED CT concepts (the parent and common descendants; Synthea uses 44054006)
# and ICD-10 E10-E14 by prefix.
DIABETES_SNOMED: Final = frozenset(
    {
        "73211009",
        "44054006",
        "46635009",
        "190330002",
        "313436004",
        "190331003",
        "359642000",
        "81531005",
        "237599002",
        "199230006",
        "11530004",
        "8801005",
        "127013003",
        "90781000119102",
    }
)
DIABETES_ICD10_PREFIXES: Final = ("E10", "E11", "E12", "E13", "E14")

# PGx genotype Observations (Genomics Reporting IG STU3 and retired STU1 codings).
GENOTYPE_CODES: Final = frozenset({"84413-4"})
HAPLOTYPE_CODES: Final = frozenset({"84414-2"})
LEGACY_GENOMICS_CODES: Final = frozenset({"81247-9", "53040-2"})
GENE_STUDIED: Final = "48018-6"
MEDICATION_ASSESSED: Final = "51963-7"


def is_diabetes(system: str, code: str) -> bool:
    """True if (system, code) denotes diabetes mellitus."""
    if system == SNOMED:
        return code in DIABETES_SNOMED
    if system in (ICD10, ICD10_CM):
        return code.upper().startswith(DIABETES_ICD10_PREFIXES)
    return False
