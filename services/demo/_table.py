"""The terminal view: a rich table of the cards a few patients received."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._hooks import Card, HookResult

_INDICATOR_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "cyan"}


def request_label(result: HookResult) -> str:
    """'order-select clopidogrel' or 'patient-view'."""
    return f"{result.hook} {result.drug.name}" if result.drug else result.hook


def suggestion_text(card: Card) -> str:
    """The labels of a card's suggestions, joined."""
    return "; ".join(str(s.get("label", "")) for s in card.get("suggestions", []) if s.get("label"))


def cards_table(results: Sequence[HookResult], labels: Mapping[str, str], title: str) -> Table:
    """One row per card (or one 'no card' row per call) for the given results."""
    table = Table(title=title, show_lines=True, expand=True)
    table.add_column("Patient", style="bold", ratio=2)
    table.add_column("Request", ratio=2)
    table.add_column("Indicator", ratio=1)
    table.add_column("Card", ratio=6)
    table.add_column("Suggestion", ratio=3)
    for result in results:
        patient = Text(result.patient_id)
        if labels.get(result.patient_id):
            patient.append(f"\n{labels[result.patient_id]}", style="dim")
        if not result.cards:
            table.add_row(patient, request_label(result), Text("-", style="dim"), Text("no card", style="dim"), "")
            continue
        for card in result.cards:
            indicator = str(card.get("indicator", ""))
            body = Text(str(card.get("summary", "")), style="bold")
            detail = str(card.get("detail", "")).strip()
            if detail:
                body.append("\n" + _shorten(detail, 320))
            table.add_row(
                patient,
                request_label(result),
                Text(indicator, style=_INDICATOR_STYLE.get(indicator, "")),
                body,
                suggestion_text(card),
            )
    return table


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def print_summary(console: Console, figures: Mapping[str, object]) -> None:
    """A small two-column table of the run's figures."""
    table = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in figures.items():
        table.add_row(Text(key, style="bold"), str(value))
    console.print(table)
