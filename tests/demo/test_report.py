"""The report folder: cards as JSON, figures, and an HTML page that escapes what services send."""

from __future__ import annotations

from pathlib import Path

import orjson

from services.demo._hooks import DEMO_DRUGS, HookResult
from services.demo._report import render_html, write_report


def _result(cards: list[dict[str, object]]) -> HookResult:
    return HookResult("p1", "order-select", "pgx-order-select", DEMO_DRUGS[0], cards, 200, 12.5)


def test_html_escapes_card_text_and_drops_unsafe_links() -> None:
    card = {
        "summary": "<script>alert(1)</script> CYP2C19 Poor Metabolizer",
        "indicator": "warning",
        "detail": "a & b <b>",
        "source": {"label": 'CPIC "clopidogrel"'},
        "links": [
            {"label": "guideline", "url": "https://cpicpgx.org/guidelines/"},
            {"label": "evil", "url": "javascript:alert(1)"},
        ],
        "suggestions": [{"label": "Order prasugrel <10 mg>"}],
    }
    page = render_html([_result([card])], {"p1": "CYP2C19 poor metabolizer"}, {"patients": 1}, "t")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; CYP2C19 Poor Metabolizer" in page
    assert "a &amp; b &lt;b&gt;" in page
    assert "CPIC &quot;clopidogrel&quot;" in page
    assert 'href="https://cpicpgx.org/guidelines/"' in page
    assert "javascript:" not in page
    assert "Order prasugrel &lt;10 mg&gt;" in page


def test_write_report_writes_cards_summary_html_and_manifest(tmp_path: Path) -> None:
    results = [_result([{"summary": "s", "indicator": "info"}]), _result([])]
    paths = write_report(tmp_path / "r", results, {"p1": ""}, {"cards": 1}, {"seed": 1})
    cards = orjson.loads(paths["cards"].read_bytes())
    assert [len(r["cards"]) for r in cards] == [1, 0]
    assert cards[0]["drug"] == {"name": "clopidogrel", "rxnorm": "309362"}
    assert orjson.loads(paths["summary"].read_bytes()) == {"cards": 1}
    assert orjson.loads(paths["cohort"].read_bytes()) == {"seed": 1}
    assert paths["html"].read_text().startswith("<!doctype html>")
