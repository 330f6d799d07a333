"""Genomics extractors: Genomics Reporting IG genotype / haplotype / therapeutic-implication Observations
(STU3 codes and the retired STU1 81247-9 / 53040-2 codings) and outside-call diplotypes.

A genotype Observation (LOINC 84413-4) gives a gene (component 48018-6, HGNC) and a diplotype text such
as ``CYP2C19*2/*2`` or ``CYP2D6*7.001 / CYP2D6*1.001``; the text is reduced to the allele names the
pgx knowledge base uses (gene prefix stripped, PharmVar sub-allele suffix ``.001`` dropped). A
therapeutic implication contributes the phenotype the lab reported. Two haplotypes of a gene with no
genotype make a diplotype. The gene symbol in a coding's display wins over its HGNC id: real reports
carry wrong ids (``HGNC:262`` for CYP2C19).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from services.common import codes
from services.common.twin import GenotypeInput, SourceRef

from ._refs import split_reference
from ._resource import Resource, codings, effective_time, reference_of, reference_target, source_ref
from .errors import MalformedResource

TBD_CODES = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
THERAPEUTIC_IMPLICATION = "therapeutic-implication"
LEGACY_PANEL = "81247-9"
LEGACY_IMPLICATION = "53040-2"

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

# LOINC answers of the implication component (and the retired 53040-2 value) -> CPIC phenotype text.
PHENOTYPE_ANSWERS = {
    "LA10315-2": "Ultrarapid Metabolizer",
    "LA25390-8": "Rapid Metabolizer",
    "LA25391-6": "Normal Metabolizer",
    "LA10316-0": "Normal Metabolizer",  # retired "Extensive metabolizer"
    "LA10317-8": "Intermediate Metabolizer",
    "LA9657-3": "Poor Metabolizer",
    "LA25392-4": "Increased Function",
    "LA25393-2": "Normal Function",
    "LA25395-7": "Decreased Function",
    "LA25394-0": "Poor Function",
    "LA19541-4": "High Risk",
    "LA19542-2": "Low Risk",
}

_GENE_PREFIX = re.compile(r"^\s*([A-Z][A-Z0-9-]*[0-9A-Z])(?=\s|\*)")
_SUBALLELE = re.compile(r"(\*\d+)\.\d{3}\b")
_VKORC1_SNP = re.compile(r"^rs9923231\s+([ACGT])\s*/\s*([ACGT])$")
_VKORC1_NAMES = {"C": "rs9923231 reference (C)", "T": "rs9923231 variant (T)"}


@dataclass
class GenomicsState:
    """Genomic facts gathered across a patient's resources, resolved into GenotypeInputs at the end."""

    genotypes: dict[str, GenotypeInput] = field(default_factory=dict)
    genotype_genes: dict[str, str] = field(default_factory=dict)  # "Observation/id" -> gene
    haplotypes: dict[str, list[tuple[str, SourceRef]]] = field(default_factory=dict)
    phenotypes: dict[str, tuple[str, SourceRef]] = field(default_factory=dict)
    pending_implications: list[tuple[Resource, str]] = field(default_factory=list)
    files: list[GenotypeInput] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def is_genomic(resource: Resource) -> bool:
    """True if an Observation is a genotype, haplotype, therapeutic implication or retired PGx panel."""
    for system, code, _ in codings(resource.get("code"), where=resource, element="code"):
        if code in codes.GENOTYPE_CODES or code in codes.HAPLOTYPE_CODES or code in codes.LEGACY_GENOMICS_CODES:
            return True
        if system == TBD_CODES and code == THERAPEUTIC_IMPLICATION:
            return True
    return False


def gene_of(concept: object, *, where: str) -> str | None:
    """Gene symbol of an HGNC CodeableConcept: the display when it looks like a symbol, else the id's symbol."""
    for _, code, display in codings(concept, where=where, element="gene"):
        if display and re.fullmatch(r"[A-Z][A-Z0-9-]+", display.strip()):
            return display.strip()
        if code in HGNC_SYMBOLS:
            return HGNC_SYMBOLS[code]
    return None


def component_gene(resource: Resource) -> str | None:
    """Gene named by the 48018-6 component."""
    where = reference_of(resource)
    for component in resource.get("component", []) or []:
        if not isinstance(component, dict):
            raise MalformedResource(where, "component is not an object")
        if any(code == codes.GENE_STUDIED for _, code, _ in codings(component.get("code"), where=where, element="c")):
            return gene_of(component.get("valueCodeableConcept"), where=where)
    return None


def value_text(holder: Resource, *, where: str) -> str | None:
    """Text of valueCodeableConcept (display preferred, then text) or valueString."""
    concept = holder.get("valueCodeableConcept")
    if isinstance(concept, dict):
        for _, _, display in codings(concept, where=where, element="valueCodeableConcept"):
            if display:
                return display
        text = concept.get("text")
        if isinstance(text, str) and text.strip():
            return text
    value = holder.get("valueString")
    return value if isinstance(value, str) and value.strip() else None


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


def extract_genomic(resource: Resource, state: GenomicsState) -> None:
    """Read one genomics Observation into ``state``."""
    where = reference_of(resource)
    if resource.get("status") in ("entered-in-error", "cancelled"):
        return
    code_list = [(s, c) for s, c, _ in codings(resource.get("code"), where=where, element="code")]
    code_set = {c for _, c in code_list}
    when = effective_time(resource)
    if code_set & codes.GENOTYPE_CODES:
        _genotype(resource, state, when)
    elif code_set & codes.HAPLOTYPE_CODES:
        text = value_text(resource, where=where)
        gene, allele = normalise_alleles(text or "", component_gene(resource))
        if not text or gene is None:
            raise MalformedResource(where, "haplotype without a gene or value")
        state.haplotypes.setdefault(gene, []).append((allele, source_ref(resource, when=when)))
    elif (TBD_CODES, THERAPEUTIC_IMPLICATION) in code_list or LEGACY_IMPLICATION in code_set:
        state.pending_implications.append((resource, where))
    elif LEGACY_PANEL in code_set:
        _legacy_panel(resource, state, when)


def _genotype(resource: Resource, state: GenomicsState, when: datetime | None) -> None:
    where = reference_of(resource)
    text = value_text(resource, where=where)
    if not text:
        raise MalformedResource(where, "genotype without a value")
    gene, diplotype = normalise_alleles(text, component_gene(resource))
    if gene is None or not diplotype:
        raise MalformedResource(where, "genotype without a gene")
    ref = source_ref(resource, when=when)
    state.genotypes[gene] = GenotypeInput(kind="diplotype", gene=gene, diplotype=diplotype, source=ref)
    state.genotype_genes[where] = gene
    state.used.add(where)


def _legacy_panel(resource: Resource, state: GenomicsState, when: datetime | None) -> None:
    """STU1 panel: gene, genotype (84413-4) and metaboliser status (53040-2) as components."""
    where = reference_of(resource)
    gene = component_gene(resource)
    for component in resource.get("component", []) or []:
        ccodes = {c for _, c, _ in codings(component.get("code"), where=where, element="component.code")}
        if ccodes & codes.GENOTYPE_CODES:
            text = value_text(component, where=where)
            if text:
                found_gene, diplotype = normalise_alleles(text, gene)
                if found_gene:
                    ref = source_ref(resource, when=when)
                    state.genotypes[found_gene] = GenotypeInput(
                        kind="diplotype", gene=found_gene, diplotype=diplotype, source=ref
                    )
                    state.genotype_genes[where] = found_gene
                    state.used.add(where)
        elif LEGACY_IMPLICATION in ccodes and gene:
            phenotype = _phenotype(component, where=where)
            if phenotype:
                state.phenotypes.setdefault(gene, (phenotype, source_ref(resource, when=when)))
                state.used.add(where)


def _phenotype(holder: Resource, *, where: str) -> str | None:
    for _, code, display in codings(holder.get("valueCodeableConcept"), where=where, element="value"):
        if code in PHENOTYPE_ANSWERS:
            return PHENOTYPE_ANSWERS[code]
        if display:
            return display
    return None


def _implication(resource: Resource, where: str, state: GenomicsState) -> None:
    gene = component_gene(resource)
    if gene is None:
        for derived in resource.get("derivedFrom", []) or []:
            ref = reference_target(derived)
            target = split_reference(ref) if ref else None
            if target is not None:
                gene = state.genotype_genes.get(f"Observation/{target[1]}")
                if gene:
                    break
    if gene is None:
        raise MalformedResource(where, "therapeutic implication without a gene or genotype")
    phenotype = _phenotype(resource, where=where)
    for component in resource.get("component", []) or []:
        ccodes = {c for _, c, _ in codings(component.get("code"), where=where, element="component.code")}
        if THERAPEUTIC_IMPLICATION in ccodes or LEGACY_IMPLICATION in ccodes:
            phenotype = _phenotype(component, where=where) or phenotype
    if phenotype is None:
        raise MalformedResource(where, "therapeutic implication without a phenotype")
    state.phenotypes.setdefault(gene, (phenotype, source_ref(resource, when=effective_time(resource))))
    state.used.add(where)


def resolve(state: GenomicsState, skipped: list[tuple[str, str]]) -> list[GenotypeInput]:
    """The GenotypeInputs: genotypes (with reported phenotypes), haplotype pairs, phenotype-only calls, files."""
    for resource, where in state.pending_implications:
        try:
            _implication(resource, where, state)
        except MalformedResource as exc:
            skipped.append((exc.reference, exc.reason))
    for gene, alleles in state.haplotypes.items():
        if gene in state.genotypes:
            continue
        if len(alleles) == 2:
            diplotype = "/".join(a for a, _ in alleles)
            state.genotypes[gene] = GenotypeInput(
                kind="diplotype", gene=gene, diplotype=diplotype, source=alleles[0][1]
            )
            state.used.update(s.reference for _, s in alleles)
        else:
            for _, ref in alleles:
                skipped.append((ref.reference, f"{len(alleles)} haplotypes of one gene without a genotype"))
    for gene, (phenotype, ref) in state.phenotypes.items():
        if gene in state.genotypes:
            if state.genotypes[gene].phenotype is None:
                state.genotypes[gene] = state.genotypes[gene].model_copy(update={"phenotype": phenotype})
        else:
            state.genotypes[gene] = GenotypeInput(kind="diplotype", gene=gene, phenotype=phenotype, source=ref)
    return [state.genotypes[g] for g in sorted(state.genotypes)] + state.files
