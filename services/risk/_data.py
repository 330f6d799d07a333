"""Loading the packaged coefficient files and locating the model cards."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["MODEL_FILES", "load", "model_card", "citation_url"]

MODEL_FILES = {
    "prevent": "prevent_base.json",
    "pce": "pce_2013.json",
    "phenoage": "phenoage_levine2018.json",
    "findrisc": "findrisc.json",
}


@cache
def load(model: str) -> dict[str, Any]:
    """The converted coefficient file of ``model`` (see scripts/build_risk_data.py)."""
    text = resources.files("services.risk").joinpath("data", MODEL_FILES[model]).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def model_card(model: str) -> str:
    """Package-relative path of the model card shipped for ``model`` (``services/risk/model_cards/*.md``)."""
    return f"services/risk/model_cards/{model}.md"


def citation_url(model: str) -> str:
    """The DOI of the paper that defines ``model``, as a resolvable URL."""
    return f"https://doi.org/{load(model)['doi']}"
