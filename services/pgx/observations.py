"""Genotype Observations from the EHR -> GenotypeInput (outside calls), current and legacy codings.

Accepted: Genomics Reporting IG genotype Observations (LOINC 84413-4) valued with a coding display
(``CYP2C19*2/*2``), text (``CYP2D6*7.001 / CYP2D6*1.001``) or a string; the gene from the 48018-6
component (HGNC) or the value's prefix. Legacy STU1 Observations: the 81247-9 panel valued the same way,
and 53040-2 "Genetic variation's effect on drug metabolism" whose answer is a metabolizer status (kept as
the lab's phenotype, with no diplotype).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.common.codes import GENE_STUDIED, GENOTYPE_CODES, LEGACY_GENOMICS_CODES, LOINC
from services.common.twin import GenotypeInput, SourceRef
from services.pgx._outside import known_genes, normalise_gene
from services.pgx.fhir import PHENOTYPE_ANSWERS

# LOINC answers for metabolizer status (legacy 53040-2 values): the ones fhir.py writes, read back, plus
# LA10316-0 "extensive", today's "normal".
METABOLIZER_ANSWERS = {
    code: phenotype for phenotype, (code, _) in PHENOTYPE_ANSWERS.items() if phenotype.endswith("Metabolizer")
} | {"LA10316-0": "Normal Metabolizer"}
LEGACY_EFFECT = "53040-2"


def _codes(concept: Mapping[str, Any] | None) -> list[tuple[str | None, str | None, str | None]]:
    if not concept:
        return []
    return [(c.get("system"), c.get("code"), c.get("display")) for c in concept.get("coding", [])]


def _gene(resource: Mapping[str, Any], value_text: str) -> str | None:
    for component in resource.get("component", []):
        if any(code == GENE_STUDIED for _, code, _ in _codes(component.get("code"))):
            for _, _, display in _codes(component.get("valueCodeableConcept")):
                if display and normalise_gene(display) in known_genes():
                    return normalise_gene(display)
    for gene in sorted(known_genes(), key=len, reverse=True):
        if value_text.upper().startswith(gene):
            return gene
    return None


def _value_text(resource: Mapping[str, Any]) -> str | None:
    concept = resource.get("valueCodeableConcept")
    if concept:
        for _, _, display in _codes(concept):
            if display:
                return str(display)
        if concept.get("text"):
            return str(concept["text"])
    value = resource.get("valueString")
    return str(value) if value else None


def _source(resource: Mapping[str, Any]) -> SourceRef:
    when = resource.get("effectiveDateTime") or resource.get("issued")
    parsed = None
    if isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    return SourceRef(
        resource_type="Observation",
        id=str(resource.get("id", "")),
        version=(resource.get("meta") or {}).get("versionId"),
        date=parsed,
    )


def genotype_from_observation(resource: Mapping[str, Any]) -> GenotypeInput | None:
    """A diplotype GenotypeInput from a genotype Observation, or None if it is not a PGx genotype."""
    if resource.get("resourceType") != "Observation" or resource.get("status") in ("entered-in-error", "cancelled"):
        return None
    codes = {code for system, code, _ in _codes(resource.get("code")) if system in (LOINC, None)}
    if codes & (GENOTYPE_CODES | (LEGACY_GENOMICS_CODES - {LEGACY_EFFECT})):
        text = _value_text(resource)
        if not text:
            return None
        gene = _gene(resource, text)
        if gene is None:
            return None
        return GenotypeInput(kind="diplotype", gene=gene, diplotype=text, source=_source(resource))
    if LEGACY_EFFECT in codes:
        answers = [METABOLIZER_ANSWERS.get(code or "") for _, code, _ in _codes(resource.get("valueCodeableConcept"))]
        phenotype = next((a for a in answers if a), None)
        gene = _gene(resource, "")
        if phenotype is None or gene is None:
            return None
        return GenotypeInput(kind="diplotype", gene=gene, diplotype=None, phenotype=phenotype, source=_source(resource))
    return None
