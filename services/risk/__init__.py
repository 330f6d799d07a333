"""twinrx risk engine: clinical risk equations, biological age, what-if scenarios and polygenic scores.

A pure library (numbers and files in, results out): no Redis, Celery, FastAPI or HTTP here. Coefficients
live in ``data/`` (built by ``scripts/build_risk_data.py`` from the published tables, each file citing its
paper) and a model card per equation in ``model_cards/``.
"""

from __future__ import annotations

from services.risk._assess import DEFAULT_MAX_AGE_DAYS, assess
from services.risk.cases import score_case
from services.risk.scenarios import ScenarioDelta, what_if

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "ScenarioDelta",
    "assess",
    "score_case",
    "what_if",
]
