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


def _short_request(result: HookResult) -> str:
    return f"order {result.drug.name}" if result.drug else "open chart"


def suggestion_text(card: Card) -> str:
    """The labels of a card's suggestions, joined."""
    return "; ".join(str(s.get("label", "")) for s in card.get("suggestions", []) if s.get("label"))


def cards_table(results: Sequence[HookResult], labels: Mapping[str, str], title: str) -> Table:
    """One row per card (or one 'no card' row per call) for the given results."""
    table = Table(title=title, expand=True)
    table.add_column("Patient", style="bold", ratio=3)
    table.add_column("Request", no_wrap=True, min_width=18)
    table.add_column("Indicator", no_wrap=True, min_width=8)
    table.add_column("Card", ratio=7)
    table.add_column("Suggestion", ratio=3)
    previous = None
    for result in results:
        patient = Text("")
        if result.patient_id != previous:
            if previous is not None:
                table.add_section()
            patient = Text(result.patient_id)
            if labels.get(result.patient_id):
                patient.append(f"\n{labels[result.patient_id]}", style="dim")
            previous = result.patient_id
        if not result.cards:
            table.add_row(patient, _short_request(result), Text("-", style="dim"), Text("no card", style="dim"), "")
            continue
        for card in result.cards:
            indicator = str(card.get("indicator", ""))
            table.add_row(
                patient,
                _short_request(result),
                Text(indicator, style=_INDICATOR_STYLE.get(indicator, "")),
                Text(_shorten(str(card.get("summary", "")), 200)),
                _shorten(suggestion_text(card), 120),
            )
            patient = Text("")
    return table


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def figure_text(value: object) -> str:
    """A figure for people: mappings as ``key value, key value``."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    return str(value)


def print_summary(console: Console, figures: Mapping[str, object]) -> None:
    """A small two-column table of the run's figures."""
    table = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in figures.items():
        table.add_row(Text(key, style="bold"), figure_text(value))
    console.print(table)
