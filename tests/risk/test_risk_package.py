"""Package contract: exported names, doctests, data rebuilt from shared/ equal to the committed files."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import services.risk as risk

REPO = Path(__file__).resolve().parents[2]


def test_all_lists_the_public_names() -> None:
    public = {n for n in dir(risk) if not n.startswith("_")}
    modules = {
        "annotations", "cases", "drugs", "egfr", "errors", "findrisc", "pce", "phenoage", "prevent", "scenarios",
        "units", "fhir", "prs", "cli",
    }  # fmt: skip
    assert set(risk.__all__) == public - modules


@pytest.mark.parametrize(
    "module",
    ["units", "prevent", "pce", "phenoage", "findrisc", "egfr", "drugs"],
)
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"services.risk.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_committed_data_equals_a_rebuild_from_shared(shared_data: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_risk_data.py"),
            "--shared",
            str(shared_data / "risk"),
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_model_cards_are_shipped_for_every_model() -> None:
    for model in ("prevent", "pce", "phenoage", "findrisc", "prs"):
        card = REPO / "services" / "risk" / "model_cards" / f"{model}.md"
        text = card.read_text()
        for heading in ("## Intended use", "## Validation", "## Limits"):
            assert heading in text, (model, heading)
