"""Genomics extractors: Genomics Reporting IG genotype / haplotype / therapeutic-implication Observations
(STU3 codes and the retired STU1 81247-9 / 53040-2 codings) and outside-call diplotypes.

Genotype Observations (LOINC 84413-4) and retired 81247-9 panels are read by the one parser,
:func:`services.pgx.genotype_from_observation` (diplotypes in the knowledge base's allele naming, every
gene kept, a missing value or gene reported as the skip reason). What needs more than one resource stays
here: a therapeutic implication contributes the phenotype the lab reported (its gene may come from the
genotype it is derived from), and two haplotypes of a gene with no genotype make a diplotype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.common import codes
from services.common.twin import GenotypeInput, SourceRef
from services.pgx import PGxValueError, genotype_from_observation
from services.pgx.observations import normalise_alleles, observation_gene, phenotype_answer, value_text

from ._extract import reject_future
from ._refs import split_reference
from ._resource import Resource, codings, effective_time, reference_of, reference_target, source_ref
from .errors import MalformedResource

TBD_CODES = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
THERAPEUTIC_IMPLICATION = "therapeutic-implication"
LEGACY_PANEL = "81247-9"
LEGACY_IMPLICATION = "53040-2"


@dataclass
class GenomicsState:
    """Genomic facts gathered across a patient's resources, resolved into GenotypeInputs at the end."""

    genotypes: dict[str, GenotypeInput] = field(default_factory=dict)  # the newest genotype of each gene
    # Other genotypes of a gene already in ``genotypes``: pgx.profile weighs them (newest wins with a
    # warning; same-date calls that disagree make the gene Indeterminate), so none is dropped here.
    other_genotypes: list[GenotypeInput] = field(default_factory=list)
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


def extract_genomic(resource: Resource, state: GenomicsState) -> None:
    """Read one genomics Observation into ``state``."""
    where = reference_of(resource)
    if resource.get("status") in ("entered-in-error", "cancelled"):
        return
    code_list = [(s, c) for s, c, _ in codings(resource.get("code"), where=where, element="code")]
    code_set = {c for _, c in code_list}
    when = effective_time(resource)
    reject_future(resource, when)
    if code_set & codes.GENOTYPE_CODES:
        _genotype(resource, state, when)
    elif code_set & codes.HAPLOTYPE_CODES:
        text = value_text(resource)
        gene, allele = normalise_alleles(text or "", observation_gene(resource))
        if not text or gene is None:
            raise MalformedResource(where, "haplotype without a gene or value")
        state.haplotypes.setdefault(gene, []).append((allele, source_ref(resource, when=when)))
    elif (TBD_CODES, THERAPEUTIC_IMPLICATION) in code_list or LEGACY_IMPLICATION in code_set:
        # Implications stay here: their gene may come from the genotype they are derived from.
        state.pending_implications.append((resource, where))
    elif LEGACY_PANEL in code_set:
        _genotype(resource, state, when)


def _genotype(resource: Resource, state: GenomicsState, when: datetime | None) -> None:
    """A genotype or a retired STU1 panel, read by the pgx parser (errors become skip reasons)."""
    where = reference_of(resource)
    try:
        found = genotype_from_observation(resource, normalise=True, any_gene=True, strict=True)
    except PGxValueError as exc:
        raise MalformedResource(where, exc.message) from exc
    if found is None or found.gene is None:
        return
    ref = source_ref(resource, when=when)
    if found.diplotype:
        entry = found.model_copy(update={"phenotype": None, "source": ref})
        current = state.genotypes.get(found.gene)
        if current is None or _later(when, current.source.date):
            if current is not None:
                state.other_genotypes.append(current)
            state.genotypes[found.gene] = entry
        else:
            state.other_genotypes.append(entry)
        state.genotype_genes[where] = found.gene
    if found.phenotype:  # a panel's status: weighed with the implications in resolve()
        state.phenotypes.setdefault(found.gene, (found.phenotype, ref))
    state.used.add(where)


def _implication(resource: Resource, where: str, state: GenomicsState) -> None:
    gene = observation_gene(resource)
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
    phenotype = phenotype_answer(resource)
    for component in resource.get("component", []) or []:
        ccodes = {c for _, c, _ in codings(component.get("code"), where=where, element="component.code")}
        if THERAPEUTIC_IMPLICATION in ccodes or LEGACY_IMPLICATION in ccodes:
            phenotype = phenotype_answer(component) or phenotype
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
    return [state.genotypes[g] for g in sorted(state.genotypes)] + state.other_genotypes + state.files


def _later(new: datetime | None, old: datetime | None) -> bool:
    """True when ``new`` is strictly newer (an undated genotype never displaces a dated one)."""
    return new is not None and (old is None or new > old)
