"""Per-sample sums of weight x dosage, accumulated in blocks (plink2 --score arithmetic).

Missing dosages add 0 (and 2 fewer alleles to ALLELE_CT), or with mean imputation the mean dosage of
the samples that have a call. ``is_dominant`` uses min(dosage, 1), ``is_recessive`` max(dosage - 1, 0).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.risk.prs._scorefile import DOMINANT, RECESSIVE

__all__ = ["Accumulator"]

_CHUNK = 4096
Floats = npt.NDArray[np.float64]


class Accumulator:
    """Per-sample sums, allele counts and the matched-variant count, filled block by block."""

    def __init__(self, n_samples: int, weights: Floats, mean_impute: bool) -> None:
        self.weights = weights
        self.mean_impute = mean_impute
        self.sums = np.zeros((n_samples, weights.shape[1]))
        self.n_missing = np.zeros(n_samples, dtype=np.int64)
        self.n_matched = 0
        # A block of at most ~32 MB of dosages is multiplied into the sums at once.
        self._block = np.empty((max(16, min(_CHUNK, (1 << 22) // max(n_samples, 1))), n_samples))
        self._idx: list[int] = []

    @property
    def allele_ct(self) -> npt.NDArray[np.int64]:
        """Non-missing alleles per sample (2 per matched variant with a call)."""
        counts: npt.NDArray[np.int64] = 2 * (self.n_matched - self.n_missing)
        return counts

    def add(self, dosage: Floats, variant: int, effect_type: int) -> None:
        row = self._block[len(self._idx)]
        if np.isnan(dosage.sum()):
            missing = np.isnan(dosage)
            self.n_missing += missing
            fill = 0.0
            if self.mean_impute and not missing.all():
                fill = float(np.mean(dosage[~missing]))
            dosage = np.where(missing, fill, dosage)
        if effect_type == DOMINANT:
            np.minimum(dosage, 1.0, out=row)
        elif effect_type == RECESSIVE:
            np.maximum(dosage - 1.0, 0.0, out=row)
        else:
            row[:] = dosage
        self._idx.append(variant)
        self.n_matched += 1
        if len(self._idx) == len(self._block):
            self.flush()

    def add_block(self, dosage: Floats, variants: list[int], effect_types: npt.NDArray[np.int8]) -> None:
        """Add many variants at once: ``dosage`` is (variants, samples) with NaN where missing."""
        self.flush()
        if np.isnan(dosage.sum()):
            missing = np.isnan(dosage)
            self.n_missing += missing.sum(axis=0)
            counts = (~missing).sum(axis=1)
            fill = np.zeros(len(variants))
            if self.mean_impute:
                totals = np.where(missing, 0.0, dosage).sum(axis=1)
                fill = np.divide(totals, counts, out=fill, where=counts > 0)
            dosage = np.where(missing, fill[:, None], dosage)
        dominant, recessive = effect_types == DOMINANT, effect_types == RECESSIVE
        if dominant.any():
            dosage[dominant] = np.minimum(dosage[dominant], 1.0)
        if recessive.any():
            dosage[recessive] = np.maximum(dosage[recessive] - 1.0, 0.0)
        self.sums += (self.weights[variants].T @ dosage).T
        self.n_matched += len(variants)

    def flush(self) -> None:
        if self._idx:
            used = self._block[: len(self._idx)]
            self.sums += used.T @ self.weights[self._idx]
            self._idx = []
