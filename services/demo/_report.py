"""The report folder: every card as JSON, the run's figures, and a one-page HTML summary.

Everything placed in the HTML is escaped with :func:`html.escape` (card text comes from a service and
is untrusted here); links are emitted only for ``http``/``https`` URLs.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from services.common.errors import InputFileError

from ._hooks import Card, HookResult
from ._table import figure_text, request_label, suggestion_text

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #dde;padding:.35rem .5rem;
text-align:left;vertical-align:top} th{background:#f3f5f9}
.critical{color:#b00020;font-weight:600} .warning{color:#9a6700;font-weight:600} .info{color:#0b5cad}
.none{color:#889} .detail{white-space:pre-wrap;color:#3a4150;font-size:13px} .muted{color:#667}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem} dt{font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _links(card: Card) -> str:
    out = []
    for link in card.get("links", []) or []:
        url = str(link.get("url", ""))
        if url.startswith(("https://", "http://")):
            out.append(f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(link.get("label", url))}</a>')
    return " · ".join(out)


def _card_cell(card: Card) -> str:
    source = card.get("source", {}) or {}
    parts = [f"<strong>{_e(card.get('summary', ''))}</strong>"]
    if card.get("detail"):
        parts.append(f'<div class="detail">{_e(card["detail"])}</div>')
    if source.get("label"):
        parts.append(f'<div class="muted">Source: {_e(source["label"])}</div>')
    links = _links(card)
    if links:
        parts.append(f"<div>{links}</div>")
    return "".join(parts)


def _rows(results: Sequence[HookResult], labels: Mapping[str, str]) -> list[str]:
    rows: list[str] = []
    for result in results:
        label = labels.get(result.patient_id, "")
        patient = f"{_e(result.patient_id)}<br><span class='muted'>{_e(label)}</span>"
        if not result.cards:
            rows.append(
                f"<tr><td>{patient}</td><td>{_e(request_label(result))}</td>"
                "<td class='none'>-</td><td class='none'>no card</td><td></td></tr>"
            )
            continue
        for card in result.cards:
            indicator = str(card.get("indicator", ""))
            css = indicator if indicator in ("critical", "warning", "info") else "none"
            rows.append(
                f"<tr><td>{patient}</td><td>{_e(request_label(result))}</td>"
                f"<td class='{css}'>{_e(indicator)}</td><td>{_card_cell(card)}</td>"
                f"<td>{_e(suggestion_text(card))}</td></tr>"
            )
    return rows


def render_html(
    results: Sequence[HookResult], labels: Mapping[str, str], figures: Mapping[str, object], title: str
) -> str:
    """The one-page HTML summary: figures, then the cards of the labelled patients, then counts per drug."""
    shown = [r for r in results if r.patient_id in labels] or list(results)
    per_request: Counter[str] = Counter()
    for result in results:
        for card in result.cards:
            per_request[f"{request_label(result)} · {card.get('indicator', '')}"] += 1
    figure_rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(figure_text(v))}</dd>" for k, v in figures.items())
    count_rows = "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in sorted(per_request.items()))
    head = "<tr><th>Patient</th><th>Request</th><th>Indicator</th><th>Card</th><th>Suggestion</th></tr>"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class='muted'>Synthetic or supplied test data only. "
        "Cards are decision support for a prescriber; the guideline link carries the full wording.</p>"
        f"<h2>Run</h2><dl>{figure_rows}</dl>"
        f"<h2>Cards</h2><table>{head}{''.join(_rows(shown, labels))}</table>"
        f"<h2>All cards by request</h2><table><tr><th>Request · indicator</th><th>Cards</th></tr>{count_rows}</table>"
        "</body></html>\n"
    )


def write_report(
    out: Path,
    results: Sequence[HookResult],
    labels: Mapping[str, str],
    figures: Mapping[str, object],
    manifest: Mapping[str, Any] | None,
    title: str = "twinrx demo",
) -> dict[str, Path]:
    """Write ``cards.json``, ``summary.json``, ``index.html`` (and ``cohort.json``) into ``out``."""
    paths = {
        "cards": out / "cards.json",
        "summary": out / "summary.json",
        "html": out / "index.html",
    }
    options = orjson.OPT_INDENT_2
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths["cards"].write_bytes(orjson.dumps([r.to_json() for r in results], option=options))
        paths["summary"].write_bytes(orjson.dumps(dict(figures), option=options))
        paths["html"].write_text(render_html(results, labels, figures, title), encoding="utf-8")
        if manifest is not None:
            paths["cohort"] = out / "cohort.json"
            paths["cohort"].write_bytes(orjson.dumps(dict(manifest), option=options))
    except OSError as exc:
        raise InputFileError(f"cannot write the report: {exc.strerror}", location=str(out)) from exc
    return paths
