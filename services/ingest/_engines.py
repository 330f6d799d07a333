"""The compute step of a sync: ``services.pgx.profile`` and ``services.risk.assess``.

Errors the libraries raise on purpose (``TwinRxError``: a VCF on the wrong build, an unknown allele,
a lab in an unknown unit) are reported against the input that caused them and the rest of the twin
is still built. An *unexpected* pgx failure is not swallowed: saving a twin without its genotypes
would turn a known poor metabolizer into "genotype unknown" on the next order, so the sync fails
(and is retried) and the stored twin stays as it was.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from services import pgx, risk
from services.common.errors import TwinRxError
from services.common.logging import get_logger
from services.common.twin import GeneResult, GenotypeInput, RiskResult, Twin

log = get_logger(__name__)


@functools.lru_cache(maxsize=1)
def engines_tag() -> str:
    """The engine versions that compute twins here; part of the input fingerprint."""
    return f"services.pgx:{pgx.kb_meta()['kb_version']};services.risk:{risk.__version__}"


def run_pgx(inputs: Sequence[GenotypeInput]) -> tuple[dict[str, GeneResult], list[tuple[str, str]]]:
    """Gene results for the inputs, and ``(reference, reason)`` for inputs the library refused.

    An input the library rejects (a ``TwinRxError`` whose location names the input's source) is left
    out and the rest are profiled again, so one bad report does not cost the patient the others.
    """
    remaining = list(inputs)
    refused: list[tuple[str, str]] = []
    while remaining:
        try:
            return pgx.profile(remaining), refused
        except TwinRxError as exc:
            culprit = next((i for i in remaining if _names_input(exc.location, i)), None)
            if culprit is None:
                return {}, [*refused, ("pgx", exc.message)]
            remaining.remove(culprit)
            refused.append((culprit.source.reference, f"pgx: {exc.message}"))
    return {}, refused


def _names_input(location: str | None, inp: GenotypeInput) -> bool:
    """True when an error's location is the input's source, or its VCF file (``path[:line] [(field)]``)."""
    if location is None:
        return False
    if location == inp.source.reference:
        return True
    path = inp.vcf_path
    return bool(path) and (location == path or location.startswith((f"{path}:", f"{path} (")))


def run_risk(twin: Twin) -> tuple[list[RiskResult], list[tuple[str, str]]]:
    """Risk results for the twin, and ``(reference, reason)`` if the library refused the whole twin.

    An impossible lab, a lab in an unknown unit or an invalid birth date does not land here: the library
    marks only the models needing that input not applicable (``risk.rejected_inputs`` lists them). What
    is caught here is a failure of the twin as a whole, so the rest of the twin is still stored.
    """
    try:
        return risk.assess(twin), []
    except TwinRxError as exc:
        return [], [(exc.location or "risk", f"risk: {exc.message}")]
    except Exception as exc:  # a library bug must not cost the patient the rest of the twin
        log.error("risk_failed", error=exc.__class__.__name__)
        return [], [("risk", f"risk failed ({exc.__class__.__name__})")]
