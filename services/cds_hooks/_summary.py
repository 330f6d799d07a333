"""patient-view: one summary card of the twin (PGx phenotypes, risks, PhenoAge, what changes them most)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from services.common.logging import get_logger
from services.common.twin import GeneResult, RiskResult, Twin
from services.risk import ScenarioDelta

from ._actionable import ActionableIndex
from ._cards import _cell, _source_text, fit_summary
from ._models import Card, Coding, Source

log = get_logger(__name__)

TOPIC: Final = Coding(
    system="https://twinrx.dev/fhir/CodeSystem/cds-topic", code="digital-twin", display="Digital twin"
)
WhatIf = Callable[[Twin, Mapping[str, float | bool | str]], list[ScenarioDelta]]


def actionable_phenotypes(pgx: dict[str, GeneResult], index: ActionableIndex) -> list[tuple[GeneResult, list[str]]]:
    """Gene results that change at least one drug's recommendation, with those drugs (by gene)."""
    out = []
    for result in sorted(pgx.values(), key=lambda r: r.gene):
        drugs = index.drugs_changed_by(result)
        if drugs:
            out.append((result, drugs))
    return out


def format_value(result: RiskResult) -> str:
    if result.value is None:
        return "–"
    if result.unit == "probability":
        return f"{result.value * 100:.1f}%"
    if result.unit == "years":
        return f"{result.value:.1f} y"
    return f"{result.value:g} {result.unit}"


def _label(result: RiskResult) -> str:
    outcome = result.outcome.replace("_", " ")
    has_horizon = any(ch.isdigit() for ch in outcome)
    horizon = f", {result.horizon_years}-year" if result.horizon_years and not has_horizon else ""
    return f"{result.model.upper()} {outcome}{horizon}"


def _why_not(result: RiskResult) -> str:
    """The cell text of a result without a value: 'not applicable: <reason>' or the status."""
    if result.status == "not-applicable":
        return f"not applicable: {result.reason}" if result.reason else "not applicable"
    return result.reason or result.status


def _provenance(result: RiskResult) -> str:
    sources: list[str] = []
    for used in result.inputs:
        if used.source is not None:
            text = f"{used.name}: {_source_text(used.source)}" + (" (stale)" if used.stale else "")
            if text not in sources:
                sources.append(text)
    return "; ".join(sources[:8]) + (" …" if len(sources) > 8 else "") if sources else "not recorded"


def scenario_changes(twin: Twin) -> list[dict[str, float | bool | str]]:
    """The single changes worth trying for this twin (each a target a clinician could aim for)."""
    changes: list[dict[str, float | bool | str]] = [{"statin": True}]
    if twin.smoking == "current":
        changes.append({"smoking": "former"})
    targets = {"systolic_bp": 120.0, "total_cholesterol": 170.0, "bmi": 25.0, "hba1c": 5.6}
    for name, target in targets.items():
        lab = twin.labs.get(name)
        if lab is not None and lab.unit in ("mm[Hg]", "mg/dL", "kg/m2", "%") and lab.value > target:
            changes.append({name: target})
    return changes


def _delta_value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if unit == "probability" else f"{value:.1f}"


def what_if_rows(twin: Twin, what_if: WhatIf, limit: int = 5) -> list[str]:
    """One row per change (its largest reduction): 'change | result | before -> after | difference'."""
    rows: list[tuple[float, str]] = []
    for change in scenario_changes(twin):
        best: tuple[float, str] | None = None
        try:
            deltas = what_if(twin, change)
        except Exception as exc:  # an optional section: a scenario the engine cannot apply is skipped, not fatal
            log.info("what_if_skipped", change=next(iter(change)), error=exc.__class__.__name__)
            continue
        what = ", ".join(f"{k} → {'yes' if v is True else v}" for k, v in change.items())
        for delta in deltas:
            if delta.difference is None or delta.difference >= 0:
                continue
            scale = 100.0 if delta.unit == "probability" else 1.0
            diff = f"{delta.difference * scale:+.1f}{' points' if delta.unit == 'probability' else ''}"
            result = f"{delta.model.upper()} {delta.outcome.replace('_', ' ')}"
            row = (
                delta.difference * scale,
                f"| {_cell(what)} | {_cell(result)} | {_delta_value(delta.before, delta.unit)} → "
                f"{_delta_value(delta.after, delta.unit)} | {diff} |",
            )
            if best is None or row[0] < best[0]:
                best = row
        if best is not None:
            rows.append(best)
    rows.sort(key=lambda row: row[0])
    return [row for _, row in rows[:limit]]


def summary_card(
    twin: Twin,
    *,
    risks: list[RiskResult],
    what_if: WhatIf,
    index: ActionableIndex,
    origin: str,
    unavailable: frozenset[str] = frozenset(),
) -> Card:
    """The single patient-view card; ``unavailable`` names prefetch keys that could not be obtained."""
    actionable = actionable_phenotypes(twin.pgx, index)
    pgx = [result for result, _ in actionable]
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
        for gene, changed in actionable:
            drugs = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
            lines.append(
                f"| {_cell(gene.gene)} | {_cell(gene.phenotype)} | {_cell(' or '.join(gene.diplotypes))} "
                f"| {_cell(drugs)} | {_cell(_source_text(gene.source))} |"
            )
    elif twin.pgx:
        lines.append("No actionable phenotype among the genes tested.")
    else:
        lines.append(
            "Pharmacogenomic results could not be retrieved for this call (not prefetched, no FHIR access)."
            if "genomics" in unavailable
            else "No pharmacogenomic results on record."
        )
    lines += ["", "**Risk estimates**", ""]
    if risks:
        if not ok:
            lines += ["No risk estimate could be computed; the reason is given per model.", ""]
        lines += ["| Model | Result | Category | Inputs (provenance) |", "|---|---|---|---|"]
        for r in risks:
            value = format_value(r) if r.status == "ok" else _why_not(r)
            if r.missing:
                value += f" (missing: {', '.join(r.missing)})"
            lines.append(f"| {_cell(_label(r))} | {_cell(value)} | {_cell(r.category)} | {_cell(_provenance(r))} |")
    else:
        lines.append("No risk estimates available.")
        # The twin's build records why the engine gave nothing (e.g. a lab in a unit it cannot convert).
        reasons = [f"{x.reference}: {x.reason}" for x in twin.skipped if x.reason.startswith("risk")]
        lines += [f"- {_cell(reason)}" for reason in reasons[:8]]
    if pheno is not None:
        age = twin.demographics.age_on(datetime.now(UTC).date())
        if age is not None and pheno.value is not None:
            lines += [
                "",
                f"**PhenoAge:** {pheno.value:.1f} y against chronological age {age:.0f} y "
                f"({pheno.value - age:+.1f} y).",
            ]
    rows = what_if_rows(twin, what_if)
    if rows:
        lines += [
            "",
            "**What lowers the risks most**",
            "",
            "| Change | Result | Before → after | Difference |",
            "|---|---|---|---|",
            *rows,
        ]
    missing = sorted(unavailable - {"genomics"})
    if missing:
        lines += ["", f"_Not available to this call: {', '.join(missing)}; estimates may be incomplete._"]
    lines += ["", f"_Twin version {twin.version}, updated {twin.updated_at.date().isoformat()} ({origin})._"]
    return Card(
        uuid=str(uuid.uuid4()),
        summary=summary,
        detail="\n".join(lines),
        indicator="warning" if pgx else "info",
        source=Source(label="twinrx digital twin", topic=TOPIC),
    )
