"""Genotype Observations from the EHR -> GenotypeInput: the one parser (ingest and the CDS prefetch use it).

Accepted: Genomics Reporting IG genotype Observations (LOINC 84413-4) valued with a coding display
(``CYP2C19*2/*2``), text (``CYP2D6*7.001 / CYP2D6*1.001``) or a string; the gene from the 48018-6
component (HGNC: the symbol in the display, else the HGNC id) or the value's prefix. Legacy STU1
Observations: the 81247-9 panel, read from its 84413-4 genotype and 53040-2 metaboliser components (or
valued itself), and 53040-2 "Genetic variation's effect on drug metabolism" whose answer is a
metabolizer status (kept as the lab's phenotype, with no diplotype).

The codes are matched whatever the coding's system says: EHRs send LOINC under its OID, ``https`` or
with a trailing slash, and these code strings mean nothing else. The gene symbol in a display wins over
its HGNC id, because real reports carry wrong ids (``HGNC:262`` for CYP2C19).

Options (defaults keep what the CDS prefetch has always received)::

    normalise  diplotype in the knowledge base's allele naming (gene prefix and PharmVar ``.001`` dropped)
    any_gene   keep genes the knowledge base has no tables for (APOE): a twin records what was reported
    strict     raise PGxValueError naming what a genotype Observation lacks, instead of returning None
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from services.common.codes import GENE_STUDIED, GENOTYPE_CODES
from services.common.twin import GenotypeInput, SourceRef
from services.pgx._outside import known_genes, normalise_gene
from services.pgx.errors import PGxValueError
from services.pgx.fhir import PHENOTYPE_ANSWERS

LEGACY_PANEL = "81247-9"
LEGACY_EFFECT = "53040-2"

HGNC_SYMBOLS = {
    "HGNC:2621": "CYP2C19",
    "HGNC:2623": "CYP2C9",
    "HGNC:2625": "CYP2D6",
    "HGNC:23663": "VKORC1",
    "HGNC:2615": "CYP2B6",
    "HGNC:3012": "DPYD",
    "HGNC:12530": "UGT1A1",
    "HGNC:4932": "HLA-B",
    "HGNC:613": "APOE",
}

# LOINC answers -> CPIC phenotype text: the ones fhir.py writes, read back, plus the retired LA10316-0
# "Extensive metabolizer" (today's normal) and the HLA risk answers.
ANSWER_PHENOTYPES = {code: phenotype for phenotype, (code, _) in PHENOTYPE_ANSWERS.items()} | {
    "LA10316-0": "Normal Metabolizer",
    "LA19541-4": "High Risk",
    "LA19542-2": "Low Risk",
}

_SYMBOL = re.compile(r"[A-Z][A-Z0-9-]+")
_GENE_PREFIX = re.compile(r"^\s*([A-Z][A-Z0-9-]*[0-9A-Z])(?=\s|\*)")
_SUBALLELE = re.compile(r"(\*\d+)\.\d{3}\b")
_VKORC1_SNP = re.compile(r"^rs9923231\s+([ACGT])\s*/\s*([ACGT])$")
_VKORC1_NAMES = {"C": "rs9923231 reference (C)", "T": "rs9923231 variant (T)"}


def codings(concept: object) -> Iterator[tuple[str | None, str | None, str | None]]:
    """``(system, code, display)`` of a CodeableConcept's codings; anything malformed is passed over."""
    if not isinstance(concept, Mapping):
        return
    raw = concept.get("coding")
    for coding in raw if isinstance(raw, list) else []:
        if isinstance(coding, Mapping):
            system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
            yield (
                system if isinstance(system, str) else None,
                code if isinstance(code, str) else None,
                display if isinstance(display, str) else None,
            )


def _code_set(concept: object) -> set[str]:
    return {code for _, code, _ in codings(concept) if code}


def gene_symbol(concept: object, *, any_gene: bool = True) -> str | None:
    """Gene of an HGNC CodeableConcept: a symbol-like display, else the HGNC id's symbol.

    >>> gene_symbol({"coding": [{"code": "HGNC:262", "display": "CYP2C19"}]})
    'CYP2C19'
    >>> gene_symbol({"coding": [{"code": "HGNC:2623"}]})
    'CYP2C9'
    """
    for _, code, display in codings(concept):
        name = display.strip() if display else ""
        if any_gene and _SYMBOL.fullmatch(name):
            return name
        if name and normalise_gene(name) in known_genes():
            return normalise_gene(name)
        by_id = HGNC_SYMBOLS.get(code or "")
        if by_id and (any_gene or by_id in known_genes()):
            return by_id
    return None


def observation_gene(holder: Mapping[str, Any], *, any_gene: bool = True) -> str | None:
    """Gene named by a 48018-6 "Gene studied" component."""
    components = holder.get("component")
    for component in components if isinstance(components, list) else []:
        if isinstance(component, Mapping) and GENE_STUDIED in _code_set(component.get("code")):
            gene = gene_symbol(component.get("valueCodeableConcept"), any_gene=any_gene)
            if gene:
                return gene
    return None


def value_text(holder: Mapping[str, Any]) -> str | None:
    """Text of valueCodeableConcept (a coding's display, then its text) or valueString."""
    concept = holder.get("valueCodeableConcept")
    for _, _, display in codings(concept):
        if display:
            return display
    text = concept.get("text") if isinstance(concept, Mapping) else None
    if isinstance(text, str) and text.strip():
        return text
    value = holder.get("valueString")
    return value if isinstance(value, str) and value.strip() else None


def phenotype_answer(holder: Mapping[str, Any]) -> str | None:
    """The phenotype of a valueCodeableConcept: a known LOINC answer, else the coding's display."""
    for _, code, display in codings(holder.get("valueCodeableConcept")):
        if code in ANSWER_PHENOTYPES:
            return ANSWER_PHENOTYPES[code]
        if display:
            return display
    return None


def normalise_alleles(text: str, gene: str | None) -> tuple[str | None, str]:
    """``(gene, diplotype)`` from report text, in the knowledge base's allele naming.

    >>> normalise_alleles("CYP2C19*2/*2", "CYP2C19")
    ('CYP2C19', '*2/*2')
    >>> normalise_alleles("CYP2D6*7.001 / CYP2D6*1.001", None)
    ('CYP2D6', '*7/*1')
    >>> normalise_alleles("VKORC1 rs9923231 C/T", "VKORC1")
    ('VKORC1', 'rs9923231 reference (C)/rs9923231 variant (T)')
    """
    match = _GENE_PREFIX.match(text)
    if gene is None and match:
        gene = match.group(1)
    cleaned = text
    if gene:
        cleaned = cleaned.replace(gene, " ")
    cleaned = re.sub(r"\s*/\s*", "/", cleaned.strip())
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    cleaned = re.sub(r"\s+(?=\*)", "", cleaned)
    cleaned = _SUBALLELE.sub(r"\1", cleaned)
    snp = _VKORC1_SNP.match(cleaned.replace("/", " / ", 1)) if gene == "VKORC1" else None
    if snp:
        alleles = sorted((snp.group(1), snp.group(2)), key=lambda a: a != "C")
        cleaned = "/".join(_VKORC1_NAMES.get(a, f"rs9923231 {a}") for a in alleles)
    return gene, cleaned


def _source(resource: Mapping[str, Any]) -> SourceRef:
    when = resource.get("effectiveDateTime") or resource.get("issued")
    parsed = None
    if isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    meta = resource.get("meta")
    return SourceRef(
        resource_type="Observation",
        id=str(resource.get("id", "")),
        version=meta.get("versionId") if isinstance(meta, Mapping) else None,
        date=parsed,
    )


def _diplotype(text: str, gene: str | None, *, normalise: bool, any_gene: bool) -> tuple[str | None, str]:
    """``(gene, diplotype)`` of a genotype value; the gene from the value's prefix when none was given."""
    if gene is None:
        match = _GENE_PREFIX.match(text)
        if any_gene and match:
            gene = match.group(1)
        elif not any_gene:
            gene = next((g for g in sorted(known_genes(), key=len, reverse=True) if text.upper().startswith(g)), None)
    if normalise and gene is not None:
        return normalise_alleles(text, gene)
    return gene, text


def _genotype(resource: Mapping[str, Any], *, normalise: bool, any_gene: bool, strict: bool) -> GenotypeInput | None:
    text = value_text(resource)
    if not text:
        if strict:
            raise PGxValueError("genotype without a value")
        return None
    gene, diplotype = _diplotype(
        text, observation_gene(resource, any_gene=any_gene), normalise=normalise, any_gene=any_gene
    )
    if gene is None or not diplotype:
        if strict:
            raise PGxValueError("genotype without a gene")
        return None
    return GenotypeInput(kind="diplotype", gene=gene, diplotype=diplotype, source=_source(resource))


def _legacy_panel(resource: Mapping[str, Any], *, normalise: bool, any_gene: bool) -> GenotypeInput | None:
    """STU1 panel: the gene, genotype (84413-4) and metaboliser status (53040-2) as components."""
    gene = observation_gene(resource, any_gene=any_gene)
    found: tuple[str | None, str] | None = None
    phenotype: str | None = None
    components = resource.get("component")
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, Mapping):
            continue
        codes = _code_set(component.get("code"))
        text = value_text(component) if codes & GENOTYPE_CODES else None
        if text and found is None:
            found = _diplotype(text, gene, normalise=normalise, any_gene=any_gene)
        elif LEGACY_EFFECT in codes and gene and phenotype is None:
            phenotype = phenotype_answer(component)
    if found is None or found[0] is None:  # no genotype component: a panel valued like a genotype, or only a status
        valued = _genotype(resource, normalise=normalise, any_gene=any_gene, strict=False)
        if valued is not None or phenotype is None or gene is None:
            return valued
        return GenotypeInput(kind="diplotype", gene=gene, phenotype=phenotype, source=_source(resource))
    return GenotypeInput(
        kind="diplotype",
        gene=found[0],
        diplotype=found[1],
        phenotype=phenotype if found[0] == gene else None,  # the status belongs to the panel's gene
        source=_source(resource),
    )


def genotype_from_observation(
    resource: Mapping[str, Any], *, normalise: bool = False, any_gene: bool = False, strict: bool = False
) -> GenotypeInput | None:
    """A diplotype GenotypeInput from a genotype Observation, or None if it is not a PGx genotype.

    A result may carry only a phenotype (53040-2, or a panel with a status and no genotype).
    """
    if resource.get("resourceType") != "Observation" or resource.get("status") in ("entered-in-error", "cancelled"):
        return None
    codes = _code_set(resource.get("code"))
    if codes & GENOTYPE_CODES:
        return _genotype(resource, normalise=normalise, any_gene=any_gene, strict=strict)
    if LEGACY_PANEL in codes:
        return _legacy_panel(resource, normalise=normalise, any_gene=any_gene)
    if LEGACY_EFFECT in codes:
        phenotype = phenotype_answer(resource)
        gene = observation_gene(resource, any_gene=any_gene)
        if phenotype is None or gene is None:
            return None
        return GenotypeInput(kind="diplotype", gene=gene, diplotype=None, phenotype=phenotype, source=_source(resource))
    return None
