"""twinrx risk engine: clinical risk equations, biological age, what-if scenarios and polygenic scores.

A pure library (numbers and files in, results out): no Redis, Celery, FastAPI or HTTP here. Coefficients
live in ``data/`` (built by ``scripts/build_risk_data.py`` from the published tables, each file citing its
paper) and a model card per equation in ``model_cards/``.

* :func:`assess` - every equation the twin's inputs allow (PREVENT, PCE, PhenoAge, FINDRISC);
  :func:`rejected_inputs` - the twin values it leaves out as impossible or unusable.
* :func:`what_if` - the same before and after changed inputs, with the differences.
* :func:`score_case` - one model on flat case inputs (``twinrx risk score``).
* :func:`score_vcf`, :func:`read_scoring_file` - polygenic scores equal to ``plink2 --score``.
* :func:`risk_assessment`, :func:`phenoage_observation`, :func:`fhir_resources` - FHIR R4 output.
"""

from __future__ import annotations

from services.risk._assess import DEFAULT_MAX_AGE_DAYS, assess, rejected_inputs
from services.risk.cases import score_case
from services.risk.fhir import RISK_IDENTIFIER_SYSTEM, fhir_resources, phenoage_observation, risk_assessment
from services.risk.prs import (
    PrsOptions,
    PrsResult,
    ReferencePanel,
    ScoreFile,
    add_percentiles,
    read_scoring_file,
    score_vcf,
)
from services.risk.scenarios import ScenarioDelta, what_if

__version__ = "2026.12.2"
"""Engine version (equations, conversions, PRS scoring); ingest puts it in the twin's input fingerprint."""

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "RISK_IDENTIFIER_SYSTEM",
    "PrsOptions",
    "PrsResult",
    "ReferencePanel",
    "ScenarioDelta",
    "ScoreFile",
    "add_percentiles",
    "assess",
    "fhir_resources",
    "phenoage_observation",
    "read_scoring_file",
    "rejected_inputs",
    "risk_assessment",
    "score_case",
    "score_vcf",
    "what_if",
]
