"""patient-view: one summary card of the twin (PGx phenotypes, risks, PhenoAge, what changes them most)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from services.common.logging import get_logger
from services.common.twin import GeneResult, RiskResult, Twin

from ._cards import _cell, _source_text, fit_summary
from ._models import Card, Coding, Source

log = get_logger(__name__)

_NOT_ACTIONABLE: Final = ("normal", "extensive", "indeterminate", "uncertain", "unknown", "n/a", "no result")
TOPIC: Final = Coding(
    system="https://twinrx.dev/fhir/CodeSystem/cds-topic", code="digital-twin", display="Digital twin"
)
# Changes tried for the "what would lower the risk most" section (the risk engine's what-if vocabulary).
WHAT_IF_CHANGES: Final[list[dict[str, Any]]] = [
    {"systolic_bp": 120},
    {"smoking": "never"},
    {"statin": True},
    {"total_cholesterol_percent": -20},
    {"bmi": 25},
    {"hba1c": 5.6},
]


def actionable_phenotypes(pgx: dict[str, GeneResult]) -> list[GeneResult]:
    """Gene results whose phenotype is not normal/indeterminate (these change prescribing)."""
    out = []
    for result in pgx.values():
        phenotype = (result.phenotype or "").strip().lower()
        if phenotype and not any(word in phenotype for word in _NOT_ACTIONABLE):
            out.append(result)
    return sorted(out, key=lambda r: r.gene)


def format_value(result: RiskResult) -> str:
    if result.value is None:
        return "–"
    if result.unit == "probability":
        return f"{result.value * 100:.1f}%"
    if result.unit == "years":
        return f"{result.value:.1f} y"
    return f"{result.value:g} {result.unit}"


def _label(result: RiskResult) -> str:
    horizon = f", {result.horizon_years}-year" if result.horizon_years else ""
    return f"{result.model.upper()} {result.outcome.replace('_', ' ')}{horizon}"


def _provenance(result: RiskResult) -> str:
    sources: list[str] = []
    for used in result.inputs:
        if used.source is not None:
            text = f"{used.name}: {_source_text(used.source)}" + (" (stale)" if used.stale else "")
            if text not in sources:
                sources.append(text)
    return "; ".join(sources[:8]) + (" …" if len(sources) > 8 else "") if sources else "not recorded"


def _what_if_rows(twin: Twin, what_if: Callable[[Twin, Any], list[Any]] | None) -> list[str]:
    """Rows 'change -> outcome: before -> after (difference)', largest reductions first."""
    if what_if is None:
        return []
    rows: list[tuple[float, str]] = []
    for change in WHAT_IF_CHANGES:
        try:
            deltas = what_if(twin, change)
        except Exception as exc:  # a scenario the engine cannot apply is skipped, not fatal
            log.info("what_if_skipped", change=next(iter(change)), error=exc.__class__.__name__)
            continue
        for delta in deltas:
            diff = getattr(delta, "difference", None)
            if not isinstance(diff, int | float) or diff >= 0:
                continue
            before, after = getattr(delta, "before", None), getattr(delta, "after", None)
            what = ", ".join(f"{k} → {v}" for k, v in change.items())
            outcome = f"{getattr(delta, 'model', '')} {getattr(delta, 'outcome', '')}".strip()
            rows.append((float(diff), f"| {_cell(what)} | {_cell(outcome)} | {before} → {after} | {diff:+.3g} |"))
    rows.sort(key=lambda row: row[0])
    return [row for _, row in rows[:5]]


def summary_card(
    twin: Twin,
    *,
    risks: list[RiskResult],
    what_if: Callable[[Twin, Any], list[Any]] | None,
    gene_drugs: dict[str, list[str]],
    origin: str,
) -> Card:
    """The single patient-view card."""
    pgx = actionable_phenotypes(twin.pgx)
    ok = [r for r in risks if r.status == "ok" and r.value is not None]
    pheno = next((r for r in ok if r.model == "phenoage"), None)
    parts = [f"{len(pgx)} actionable PGx phenotype{'s' if len(pgx) != 1 else ''}"]
    if pgx:
        parts[0] += f" ({', '.join(r.gene for r in pgx[:3])}{'…' if len(pgx) > 3 else ''})"
    headline = next((r for r in ok if r.unit == "probability"), None)
    if headline is not None:
        parts.append(f"{_label(headline)} {format_value(headline)}")
    if pheno is not None:
        parts.append(f"PhenoAge {format_value(pheno)}")
    summary = fit_summary("Twin: " + "; ".join(parts))

    lines = ["**Pharmacogenomics**", ""]
    if pgx:
        lines += ["| Gene | Phenotype | Diplotype | Drugs affected | Derived from |", "|---|---|---|---|---|"]
        for gene in pgx:
            drugs = ", ".join(gene_drugs.get(gene.gene, [])[:6]) or "–"
            lines.append(
                f"| {_cell(gene.gene)} | {_cell(gene.phenotype)} | {_cell(' or '.join(gene.diplotypes))} "
                f"| {_cell(drugs)} | {_cell(_source_text(gene.source))} |"
            )
    elif twin.pgx:
        lines.append("No actionable phenotype among the genes tested.")
    else:
        lines.append("No pharmacogenomic results on record.")
    lines += ["", "**Risk estimates**", ""]
    if risks:
        lines += ["| Model | Result | Category | Inputs (provenance) |", "|---|---|---|---|"]
        for r in risks:
            value = format_value(r) if r.status == "ok" else (r.reason or r.status)
            if r.missing:
                value += f" (missing: {', '.join(r.missing)})"
            lines.append(f"| {_cell(_label(r))} | {_cell(value)} | {_cell(r.category)} | {_cell(_provenance(r))} |")
    else:
        lines.append("No risk estimates available.")
    if pheno is not None:
        age = twin.demographics.age_on(datetime.now(UTC).date())
        if age is not None and pheno.value is not None:
            lines += [
                "",
                f"**PhenoAge:** {pheno.value:.1f} y against chronological age {age:.0f} y "
                f"({pheno.value - age:+.1f} y).",
            ]
    rows = _what_if_rows(twin, what_if)
    if rows:
        lines += [
            "",
            "**What lowers the risks most**",
            "",
            "| Change | Result | Before → after | Difference |",
            "|---|---|---|---|",
            *rows,
        ]
    lines += ["", f"_Twin version {twin.version}, updated {twin.updated_at.date().isoformat()} ({origin})._"]
    return Card(
        summary=summary,
        detail="\n".join(lines),
        indicator="warning" if pgx else "info",
        source=Source(label="twinrx digital twin", topic=TOPIC),
    )
