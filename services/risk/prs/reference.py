"""Percentiles against a reference panel: samples scored the same way (same variants, same options).

A panel is a :class:`PrsResult` of the panel's VCF (or a saved JSON of one). Its ``fingerprint`` hashes
the matched variants, weights and options; a sample is placed in the panel only when its own run has the
same fingerprint, so the two sums are comparable. **A percentile is only valid within the genetic
ancestry of its panel** (PRS distributions shift between ancestries), and the result says so.

>>> panel = ReferencePanel("fp", "panel", {"S": [0.1, 0.2, 0.3, 0.4]})
>>> panel.percentile("S", 0.3)
62.5
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from services.risk.errors import CaseInputError, ScoreFileError
from services.risk.prs._result import PERCENTILE_NOTE, PrsResult

__all__ = ["ReferencePanel", "add_percentiles"]


class ReferencePanel:
    """Sorted panel sums per score name, with the fingerprint of how they were scored."""

    def __init__(self, fingerprint: str, name: str, sums: dict[str, list[float]]) -> None:
        self.fingerprint = fingerprint
        self.name = name
        self.sums = {k: np.sort(np.asarray(v, dtype=np.float64)) for k, v in sums.items()}

    @classmethod
    def from_result(cls, result: PrsResult, name: str | None = None) -> ReferencePanel:
        """A panel from a scoring run over the panel's samples."""
        sums = {s: [x.scores[s].sum for x in result.samples] for s in result.score_names}
        return cls(result.fingerprint, name or result.vcf, sums)

    @classmethod
    def from_json(cls, path: str | Path) -> ReferencePanel:
        """A panel from the JSON that ``twinrx risk prs --format json`` printed for the panel."""
        p = Path(path)
        try:
            result = PrsResult.model_validate_json(p.read_bytes())
        except FileNotFoundError:
            raise ScoreFileError("reference panel file not found", location=str(p)) from None
        except (OSError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise ScoreFileError(f"not a twinrx PRS result JSON ({first})", location=str(p)) from None
        return cls.from_result(result, p.name)

    def percentile(self, score: str, value: float) -> float:
        """Mid-rank percentile (0-100) of ``value`` among the panel's sums (ties within 1e-9 count half)."""
        panel = self.sums[score]
        tie = 1e-9 * max(1.0, abs(value))
        below = np.searchsorted(panel, value - tie, side="left")
        at_or_below = np.searchsorted(panel, value + tie, side="right")
        return float(100.0 * (below + 0.5 * (at_or_below - below)) / len(panel))

    def to_json(self) -> str:
        """The panel as JSON (fingerprint and sums)."""
        return json.dumps({"fingerprint": self.fingerprint, "name": self.name,
                           "sums": {k: v.tolist() for k, v in self.sums.items()}})  # fmt: skip


def add_percentiles(result: PrsResult, panel: ReferencePanel) -> PrsResult:
    """``result`` with each sample's percentile in ``panel``; refuses a panel scored differently."""
    if panel.fingerprint != result.fingerprint:
        raise CaseInputError(
            "was scored with other variants or options than this run; score the panel with the same scoring "
            "file and options",
            location=f"reference panel {panel.name}",
        )
    samples = [
        replace(s, percentile={k: panel.percentile(k, v.sum) for k, v in s.scores.items()}) for s in result.samples
    ]
    notes = [*result.notes, PERCENTILE_NOTE]
    return result.model_copy(update={"samples": samples, "notes": notes, "reference_panel": panel.name})
