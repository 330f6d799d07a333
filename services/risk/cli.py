"""CLI edge of services.risk: ``twinrx risk score`` and ``twinrx risk prs``.

Thin: read files, call the library, print JSON or TSV. Errors are TwinRxError subclasses, which
``services.cli`` prints as one line naming the file and field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from services.common.errors import InputFileError, TwinRxError
from services.risk.cases import canonical_model, score_case_explained
from services.risk.prs import PrsOptions, PrsResult, ReferencePanel, add_percentiles, score_vcf

risk_app = typer.Typer(no_args_is_help=True)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError("file not found", location=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read: {exc.__class__.__name__}", location=str(path)) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"not valid JSON (line {exc.lineno}, column {exc.colno})", location=str(path)) from None
    except _DuplicateKey as exc:
        raise InputFileError(f"key {exc.args[0]!r} is given twice in one object", location=str(path)) from None


class _DuplicateKey(ValueError):
    """The same key twice in one JSON object (the json module would keep the last silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


# Case fields that are not inputs, dropped when a case file gives its inputs at the top level.
_CASE_FIELDS = ("id", "model", "expected")


def _score_one(model: str, case: Any, where: str) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise InputFileError("a case must be a JSON object", location=where)
    inputs = case["inputs"] if "inputs" in case else {k: v for k, v in case.items() if k not in _CASE_FIELDS}
    expected = case.get("expected")
    keys = list(expected) if isinstance(expected, dict) else None
    if "model" in case and "inputs" in case and canonical_model(str(case["model"])) != canonical_model(model):
        raise InputFileError(f"case is for model {case['model']!r}, not {model!r}", location=where)
    notes: list[str] = []
    try:
        result, reasons = score_case_explained(model, inputs, keys=keys, notes=notes)
    except TwinRxError as exc:
        exc.location = f"{where}: {exc.location}" if exc.location else where
        raise
    for note in notes:
        typer.echo(f"twinrx: note: {where}: {note}", err=True)
    if notes and keys is None:  # a case's own expected keys stay exactly those (diffable)
        result = {**result, "notes": notes}
    by_reason: dict[str, list[str]] = {}
    for output, reason in reasons.items():
        by_reason.setdefault(reason, []).append(output)
    for reason, outputs in by_reason.items():
        typer.echo(f"twinrx: note: {where}: {', '.join(outputs)} not applicable: {reason}", err=True)
    return result


@risk_app.command("score")
def score(
    model: Annotated[str, typer.Argument(help="prevent, pce, phenoage or findrisc")],
    inputs: Annotated[Path, typer.Option("--inputs", help="A case JSON file (one case or a list of cases).")],
) -> None:
    """Score reference-case inputs with one model and print the results as JSON.

    An unknown input name is an error; a result outside the model's validated range is null, and a
    ``twinrx: note:`` line on stderr says why.
    """
    canonical_model(model)
    data = _read_json(inputs)
    if data == []:
        raise InputFileError("no cases", location=str(inputs))
    if isinstance(data, list):
        results: Any = [
            _score_one(model, case, f"{inputs} case {case.get('id', i) if isinstance(case, dict) else i}")
            for i, case in enumerate(data)
        ]
    else:
        where = f"{inputs} case {data['id']}" if isinstance(data, dict) and "id" in data else str(inputs)
        results = _score_one(model, data, where)
    typer.echo(json.dumps(results, indent=1))


def _tsv(result: PrsResult) -> str:
    v = result.variants
    lines = [
        f"# {result.pgs_id} ({result.scoring_file}, {result.score_build or 'build not stated'}) on {result.vcf}",
        f"# variants: {v.matched} matched of {v.total}; excluded: "
        + (", ".join(f"{k} {n}" for k, n in v.excluded.items()) or "none")
        + "; unmatched: "
        + (", ".join(f"{k} {n}" for k, n in v.unmatched.items()) or "none"),
        *(f"# note: {n}" for n in result.notes),
        "sample\tscore\tSUM\tAVG\tALLELE_CT\tDENOM\tPERCENTILE",
    ]
    for s in result.samples:
        for name, value in s.scores.items():
            pct = "" if s.percentile is None else f"{s.percentile[name]:.2f}"
            lines.append(
                f"{s.sample}\t{name}\t{value.sum:.10g}\t{value.avg:.10g}\t{value.allele_ct}\t{value.denom}\t{pct}"
            )
    return "\n".join(lines)


@risk_app.command("prs")
def prs(
    score: Annotated[Path, typer.Option("--score", help="PGS Catalog scoring file (plain or .gz).")],
    vcf: Annotated[Path, typer.Option("--vcf", help="VCF/BCF with GT (and DS) for one or many samples.")],
    sample: Annotated[list[str] | None, typer.Option("--sample", help="Score only this sample (repeatable).")] = None,
    mean_impute: Annotated[bool, typer.Option("--mean-impute", help="Impute missing dosages from frequency.")] = False,
    output_format: Annotated[str, typer.Option("--format", help="json or tsv.")] = "json",
    keep_ambiguous: Annotated[bool, typer.Option("--keep-ambiguous", help="Keep A/T and C/G SNPs.")] = False,
    keep_multiallelic: Annotated[bool, typer.Option("--keep-multiallelic", help="Score multi-allelic sites.")] = False,
    min_overlap: Annotated[float, typer.Option("--min-overlap", help="Least fraction of variants matched.")] = 0.75,
    no_dosage: Annotated[bool, typer.Option("--no-dosage", help="Ignore FORMAT/DS; use GT.")] = False,
    vcf_build: Annotated[
        str | None, typer.Option("--vcf-build", help="The VCF's build if its header is silent.")
    ] = None,
    detail: Annotated[bool, typer.Option("--detail", help="Add each variant's match decision (JSON).")] = False,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="JSON of a panel scored the same way, for percentiles.")
    ] = None,
) -> None:
    """Score a VCF with a polygenic score file; plink2 --score compatible SUM / AVG / ALLELE_CT / DENOM."""
    if output_format not in ("json", "tsv"):
        raise InputFileError("must be json or tsv", location="--format")
    if not 0.0 <= min_overlap <= 1.0:
        raise InputFileError("must be between 0 and 1", location="--min-overlap")
    options = PrsOptions(
        mean_impute=mean_impute,
        keep_ambiguous=keep_ambiguous,
        keep_multiallelic=keep_multiallelic,
        min_overlap=min_overlap,
        use_dosage=not no_dosage,
        vcf_build=vcf_build,
    )
    result = score_vcf(score, vcf, samples=sample or None, options=options, detail=detail)
    if reference is not None:
        result = add_percentiles(result, ReferencePanel.from_json(reference))
    for note in result.notes:
        # An unchecked build can score the wrong positions: say so where a person reads, not only in the JSON.
        if note.startswith("genome build not checked"):
            hint = "; give --vcf-build to check it" if result.vcf_build is None else ""
            typer.echo(f"twinrx: warning: {note}{hint}", err=True)
    exclude = None if detail else {"detail"}
    typer.echo(result.model_dump_json(indent=1, exclude=exclude) if output_format == "json" else _tsv(result))
