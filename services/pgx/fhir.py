"""FHIR R4 output per the HL7 Genomics Reporting IG (STU3): genotype and therapeutic-implication
Observations and a Provenance, as plain dicts.

Identifiers are stable (``urn:twinrx:pgx`` + a SHA-256 of patient, gene and diplotype / drug), so a
write-back with conditional create (``ifNoneExist: identifier=...``) is idempotent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from services.common.codes import GENE_STUDIED, HGNC, LOINC, MEDICATION_ASSESSED, RXNORM
from services.common.twin import GeneResult
from services.pgx import _kb
from services.pgx.models import Recommendation

IDENTIFIER_SYSTEM = "urn:twinrx:pgx"
IG = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
GENOTYPE_CODE = "84413-4"
EVIDENCE_LEVEL = "93044-6"
# HGNC ids of the PGx genes (genenames.org).
HGNC_IDS = {
    "ABCG2": "HGNC:74",
    "CACNA1S": "HGNC:1397",
    "CFTR": "HGNC:1884",
    "CYP2B6": "HGNC:2615",
    "CYP2C19": "HGNC:2621",
    "CYP2C9": "HGNC:2623",
    "CYP2D6": "HGNC:2625",
    "CYP3A4": "HGNC:2637",
    "CYP3A5": "HGNC:2638",
    "CYP4F2": "HGNC:2645",
    "DPYD": "HGNC:3012",
    "G6PD": "HGNC:4057",
    "HLA-A": "HGNC:4931",
    "HLA-B": "HGNC:4932",
    "IFNL3": "HGNC:18364",
    "MT-RNR1": "HGNC:7470",
    "NAT2": "HGNC:7646",
    "NUDT15": "HGNC:23063",
    "RYR1": "HGNC:10483",
    "SLCO1B1": "HGNC:10959",
    "TPMT": "HGNC:12014",
    "UGT1A1": "HGNC:12530",
    "VKORC1": "HGNC:23663",
}
# Metabolizer / function phenotypes -> LOINC answers used by the IG's therapeutic-implication component.
PHENOTYPE_ANSWERS = {
    "Ultrarapid Metabolizer": ("LA10315-2", "Ultrarapid metabolizer"),
    "Rapid Metabolizer": ("LA25390-8", "Rapid metabolizer"),
    "Normal Metabolizer": ("LA25391-6", "Normal metabolizer"),
    "Intermediate Metabolizer": ("LA10317-8", "Intermediate metabolizer"),
    "Poor Metabolizer": ("LA9657-3", "Poor metabolizer"),
    "Increased Function": ("LA25392-4", "Increased function"),
    "Normal Function": ("LA25393-2", "Normal function"),
    "Decreased Function": ("LA25395-7", "Decreased function"),
    "Poor Function": ("LA25394-0", "Poor function"),
}
UNPHASED_LIST = "unphased: variants listed"
_CATEGORY = [
    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]},
]


def stable_id(*parts: str) -> str:
    """A deterministic id (40 hex chars) from the parts; used for identifier.value and ids."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def _gene_component(gene: str) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": HGNC, "display": gene}
    if gene in HGNC_IDS:
        coding["code"] = HGNC_IDS[gene]
    return {
        "code": {"coding": [{"system": LOINC, "code": GENE_STUDIED, "display": "Gene studied [ID]"}]},
        "valueCodeableConcept": {"coding": [coding]},
    }


def _diplotype_text(result: GeneResult) -> str:
    if not result.diplotypes:
        return f"{result.gene} not called"
    if any(w.startswith(UNPHASED_LIST) for w in result.warnings):  # DPYD/RYR1: variants, not diplotypes
        return f"{result.gene} variants (unphased): {'; '.join(result.diplotypes)}"
    return " or ".join(f"{result.gene} {d}" for d in result.diplotypes)


def genotype_observation(gene_result: GeneResult, patient_ref: str) -> dict[str, Any]:
    """A genotype Observation (LOINC 84413-4) for one gene's call; ambiguous calls are listed in text."""
    text = _diplotype_text(gene_result)
    ident = stable_id(patient_ref, gene_result.gene, "|".join(gene_result.diplotypes))
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"pgx-genotype-{ident[:24]}",
        "meta": {"profile": [f"{IG}/genotype"]},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": f"genotype-{ident}"}],
        "status": "final",
        "category": _CATEGORY,
        "code": {"coding": [{"system": LOINC, "code": GENOTYPE_CODE, "display": "Genotype display name"}]},
        "subject": {"reference": patient_ref},
        "valueCodeableConcept": {"text": text},
        "component": [_gene_component(gene_result.gene)],
        "method": {"text": {"vcf": "twinrx named-allele matcher (VCF)"}.get(gene_result.method, "outside call")},
    }
    if gene_result.source is not None and gene_result.source.resource_type not in ("VCF", "TSV"):
        obs["derivedFrom"] = [{"reference": gene_result.source.reference}]
    notes = [f"Phenotype: {gene_result.phenotype}"] if gene_result.phenotype else []
    if gene_result.activity_score:
        notes.append(f"Activity score: {gene_result.activity_score}")
    if gene_result.missing_positions:
        notes.append(f"{len(gene_result.missing_positions)} defining position(s) missing from the data")
    if notes:
        obs["note"] = [{"text": "; ".join(notes)}]
    return obs


def implication_observation(rec: Recommendation, patient_ref: str, genotype_ref: str) -> dict[str, Any]:
    """A therapeutic-implication Observation for one recommendation, derived from the genotype."""
    phenotypes = [r.phenotype for r in rec.gene_results if r.phenotype]
    ident = stable_id(patient_ref, rec.drug.name, rec.source, rec.population or "", *sorted(rec.lookup.values()))
    components: list[dict[str, Any]] = []
    for phenotype in phenotypes:
        answer = PHENOTYPE_ANSWERS.get(phenotype)
        value: dict[str, Any] = (
            {"coding": [{"system": LOINC, "code": answer[0], "display": answer[1]}], "text": phenotype}
            if answer
            else {"text": phenotype}
        )
        components.append(
            {"code": {"coding": [{"system": TBD, "code": "therapeutic-implication"}]}, "valueCodeableConcept": value}
        )
    drug_coding: dict[str, Any] = {"system": RXNORM, "display": rec.drug.name}
    if rec.drug.rxnorm:
        drug_coding["code"] = rec.drug.rxnorm
    components.append(
        {
            "code": {"coding": [{"system": LOINC, "code": MEDICATION_ASSESSED, "display": "Medication assessed"}]},
            "valueCodeableConcept": {"coding": [drug_coding]},
        }
    )
    if rec.recommendation_text:
        components.append(
            {"code": {"coding": [{"system": TBD, "code": "conclusion-string"}]}, "valueString": rec.recommendation_text}
        )
    if rec.strength:
        components.append(
            {
                "code": {"coding": [{"system": LOINC, "code": EVIDENCE_LEVEL, "display": "Level of evidence"}]},
                "valueCodeableConcept": {"text": f"{rec.source} {rec.strength}"},
            }
        )
    components.extend(_gene_component(g) for g in rec.genes)
    return {
        "resourceType": "Observation",
        "id": f"pgx-implication-{ident[:24]}",
        "meta": {"profile": [f"{IG}/therapeutic-implication"]},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": f"implication-{ident}"}],
        "status": "final",
        "category": _CATEGORY,
        "code": {"coding": [{"system": TBD, "code": "therapeutic-implication", "display": "Therapeutic Implication"}]},
        "subject": {"reference": patient_ref},
        "derivedFrom": [{"reference": genotype_ref}],
        "component": components,
        "note": [{"text": f"Guideline: {rec.guideline_url}"}] if rec.guideline_url else [],
    }


def provenance(
    targets: list[str],
    *,
    sources: list[str],
    source_files: list[str] | None = None,
    recorded: datetime | None = None,
) -> dict[str, Any]:
    """A Provenance naming the produced resources, their inputs and the kb version (deterministic id).

    ``sources`` are FHIR references (``Observation/1``); ``source_files`` are inputs that are not FHIR
    resources (a VCF name), recorded by display only.
    """
    when = (recorded or datetime.now(UTC)).isoformat()
    kb_version = str(_kb.meta()["kb_version"])
    entities = [{"role": "source", "what": {"reference": s}} for s in sources]
    entities += [{"role": "source", "what": {"display": f}} for f in source_files or []]
    return {
        "resourceType": "Provenance",
        "id": f"pgx-prov-{stable_id(*targets, *sources, *(source_files or []))[:24]}",
        "target": [{"reference": t} for t in targets],
        "recorded": when,
        "activity": {"text": "pharmacogenomic interpretation"},
        "agent": [{"type": {"text": "software"}, "who": {"display": f"twinrx pgx (kb {kb_version})"}}],
        "entity": entities,
        "policy": [f"urn:twinrx:pgx:kb:{kb_version}"],
    }
