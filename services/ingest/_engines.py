"""The compute step: ``services.pgx.profile`` and ``services.risk.assess``, imported when available.

Both libraries are built alongside ingest; until an entry point exists the twin keeps its pgx / risk
fields empty and :data:`ENGINES` says which ran. Errors the libraries raise on purpose
(``TwinRxError``: a VCF on the wrong build, an unknown allele) are reported, not fatal: the rest of
the twin is still saved.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from typing import Any, cast

from services.common.errors import TwinRxError
from services.common.logging import get_logger
from services.common.twin import GeneResult, GenotypeInput, RiskResult, Twin

log = get_logger(__name__)

Profile = Callable[[Sequence[GenotypeInput]], dict[str, GeneResult]]
Assess = Callable[..., list[RiskResult]]


def _load(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def profile_function() -> Profile | None:
    """``services.pgx.profile`` or None while it does not exist."""
    return cast("Profile | None", _load("services.pgx", "profile"))


def assess_function() -> Assess | None:
    """``services.risk.assess`` or None while it does not exist."""
    return cast("Assess | None", _load("services.risk", "assess"))


@functools.lru_cache(maxsize=1)
def engines_tag() -> str:
    """Which engines (and versions, when they publish one) compute twins here; part of the fingerprint."""
    parts = []
    for module, name in (("services.pgx", "profile"), ("services.risk", "assess")):
        if _load(module, name) is None:
            parts.append(f"{module}:absent")
        else:
            version = _load(module, "__version__") or _load(module, "KB_VERSION") or "present"
            parts.append(f"{module}:{version}")
    return ";".join(parts)


def run_pgx(inputs: Sequence[GenotypeInput]) -> tuple[dict[str, GeneResult], list[tuple[str, str]]]:
    """Gene results for the inputs, and ``(reference, reason)`` for inputs the library refused.

    An input the library rejects (a ``TwinRxError`` whose location names the input's source) is left
    out and the rest are profiled again, so one bad report does not cost the patient the others.
    """
    profile = profile_function()
    remaining = list(inputs)
    refused: list[tuple[str, str]] = []
    while profile is not None and remaining:
        try:
            return profile(remaining), refused
        except TwinRxError as exc:
            culprit = next((i for i in remaining if _names_input(exc.location, i)), None)
            if culprit is None:
                return {}, [*refused, ("pgx", exc.message)]
            remaining.remove(culprit)
            refused.append((culprit.source.reference, f"pgx: {exc.message}"))
        except Exception as exc:  # a library bug must not cost the patient the rest of the twin
            log.error("pgx_failed", error=exc.__class__.__name__)
            return {}, [*refused, ("pgx", f"pgx failed ({exc.__class__.__name__})")]
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
    """Risk results for the twin, and ``(reference, reason)`` if the library refused it."""
    assess = assess_function()
    if assess is None:
        return [], []
    try:
        return assess(twin), []
    except TwinRxError as exc:
        return [], [(exc.location or "risk", f"risk: {exc.message}")]
    except Exception as exc:  # a library bug must not cost the patient the rest of the twin
        log.error("risk_failed", error=exc.__class__.__name__)
        return [], [("risk", f"risk failed ({exc.__class__.__name__})")]
