"""CLI edge of services.pgx: ``twinrx pgx call`` and ``twinrx pgx recommend`` (thin: library calls only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from services.common.twin import GeneResult
from services.pgx import _kb
from services.pgx._caller import CallReport, call_vcf
from services.pgx._drugs import close_drug_names, resolve_drug
from services.pgx._outside import known_genes, normalise_gene, outside_call
from services.pgx._recommend import recommend
from services.pgx.errors import PGxFileError, PGxValueError, UnknownDrug
from services.pgx.fhir import genotype_observation, implication_observation, provenance

pgx_app = typer.Typer(no_args_is_help=True)


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@pgx_app.command("call", help="Call diplotypes and phenotypes for each sample of a GRCh38 VCF/BCF.")
def call_command(
    file: Annotated[Path, typer.Argument(help="VCF, VCF.gz or BCF (indexed or not).")],
    sample: Annotated[str | None, typer.Option("--sample", help="Only this sample (default: all).")] = None,
    outside_calls: Annotated[
        Path | None, typer.Option("--outside-calls", help="PharmCAT outside-call TSV (gene, diplotype).")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="json, table or fhir.")] = "json",
    all_matches: Annotated[bool, typer.Option("--all-matches", help="Every matching diplotype, not the top.")] = False,
    patient: Annotated[
        str | None, typer.Option("--patient", help="FHIR subject for --format fhir (default Patient/<sample>).")
    ] = None,
) -> None:
    if output_format not in ("json", "table", "fhir"):
        raise PGxValueError(f"unknown --format {output_format!r} (json, table or fhir)", location="--format")
    report = call_vcf(file, sample=sample, outside_calls=outside_calls, all_matches=all_matches)
    if output_format == "table":
        typer.echo(report.to_table())
        _table_warnings(report)
    elif output_format == "json":
        _dump(report.to_json())
    else:
        resources: list[dict[str, Any]] = []
        for name, genes in report.samples.items():
            subject = patient or f"Patient/{name}"
            observations = [genotype_observation(r, subject) for r in genes.values() if r.diplotypes]
            resources.extend(observations)
            targets = [f"Observation/{o['id']}" for o in observations]
            resources.append(provenance(targets, sources=[], source_files=[file.name]))
        _dump({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]})


def _table_warnings(report: CallReport) -> None:
    """The warnings of called genes and outside calls (ambiguity, an outside call replacing the VCF's) after
    the table, which has no column for them; a gene the VCF did not cover is already shown as not called."""
    lines = []
    for name, genes in report.samples.items():
        skip = report.not_called.get(name, set())
        for gene, result in sorted(genes.items()):
            if gene in skip and result.method != "outside-call":
                continue
            lines += [f"  {name} {w if w.startswith(gene + ':') else f'{gene}: {w}'}" for w in result.warnings]
    if lines:
        typer.echo("\nwarnings:\n" + "\n".join(lines))


def _profile_from_json(path: Path) -> dict[str, GeneResult]:
    if path.is_dir():
        raise PGxFileError("is a directory, not a call JSON", path=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PGxFileError(f"cannot read call JSON ({exc.__class__.__name__})", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise PGxFileError(f"not JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(samples, dict) or len(samples) != 1:
        raise PGxFileError(
            "expected the output of 'twinrx pgx call' for exactly one sample", path=str(path), field="samples"
        )
    genes = next(iter(samples.values())).get("genes", {})
    profile: dict[str, GeneResult] = {}
    for gene, entry in genes.items():
        diplotypes = [d for d in entry.get("diplotypes", []) if not d.startswith("(")]
        profile[gene] = GeneResult(
            gene=gene,
            diplotypes=diplotypes,
            phenotype=entry.get("phenotype"),
            activity_score=entry.get("activity_score"),
            lookup_key=entry.get("lookup_key"),
            method=entry.get("method", "vcf"),
        )
    return profile


def _accepted_genes() -> frozenset[str]:
    """Genes with a phenotype table, HLA, and genes a guideline names without one (CYP4F2 for warfarin)."""
    return known_genes() | {gene for g in _kb.guidelines() for gene in g.get("genes") or []}


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@pgx_app.command("recommend", help="Look up CPIC (or DPWG) recommendations for a drug and a genotype.")
def recommend_command(
    drug: Annotated[str, typer.Option("--drug", help="RxNorm code, ingredient name or clinical-drug text.")],
    call_json: Annotated[Path | None, typer.Option("--call-json", help="Output of 'twinrx pgx call'.")] = None,
    diplotype: Annotated[
        list[str] | None, typer.Option("--diplotype", help="GENE=DIPLOTYPE, e.g. CYP2C19=*2/*2 (repeatable).")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="json or fhir.")] = "json",
) -> None:
    if not drug.strip():
        raise PGxValueError("empty drug: give an RxNorm code, ingredient name or clinical-drug text", location="--drug")
    if (call_json is None) == (not diplotype):
        raise PGxValueError("give either --call-json or --diplotype GENE=DIPLOTYPE", location="--diplotype")
    profile = _profile_from_json(call_json) if call_json is not None else {}
    for item in diplotype or []:
        gene, sep, value = item.partition("=")
        if not sep or not gene.strip() or not value.strip():
            raise PGxValueError(f"expected GENE=DIPLOTYPE, got {item!r}", location="--diplotype")
        if normalise_gene(gene) not in _accepted_genes():
            raise PGxValueError(f"unknown gene {gene.strip()!r} (not in the knowledge base)", location="--diplotype")
        result = outside_call(gene, value)
        if result.gene in profile and profile[result.gene].diplotypes != result.diplotypes:
            # two results for one gene: which one is true is the user's call, not ours
            raise PGxValueError(f"{result.gene} is given twice with different diplotypes", location="--diplotype")
        for warning in result.warnings:
            typer.echo(f"twinrx: warning: {warning}", err=True)
        profile[result.gene] = result
    if resolve_drug(drug) is None:
        # The kb knows only drugs with guidance: a near miss of one of its names is a typo, anything else may
        # be a real drug without PGx guidance (the library answers "no-guidance", right for CDS cards).
        close = close_drug_names(drug)
        if close:
            raise UnknownDrug(f"unknown drug {drug!r} (did you mean {_or_list(close)}?)")
        typer.echo(f"twinrx: note: no PGx guidance for {drug!r} (drug not in the knowledge base)", err=True)
    guidance = recommend(drug, profile)
    if output_format == "fhir":
        patient = "Patient/example"
        entries = []
        for rec in guidance.recommendations:
            genotype_refs = [f"Observation/{genotype_observation(r, patient)['id']}" for r in rec.gene_results]
            entries.append(implication_observation(rec, patient, genotype_refs[0] if genotype_refs else ""))
        _dump({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": e} for e in entries]})
        return
    _dump(guidance.model_dump(mode="json", exclude_none=True))
