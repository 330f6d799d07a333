"""Opening VCF/BCF files with cyvcf2 and turning one record into effect-allele dosages.

Dosage conventions follow ``plink2 --score`` so the two agree:

* GT: the count of the effect allele (0, 1, 2). A **haploid** call (a male's non-PAR chrX, written ``0`` or
  ``1``) counts as **two** copies, as plink2 does when it imports a VCF (pgsc_calc issue #480).
* DS (when the VCF has FORMAT/DS and dosages are not turned off): the ALT dosage as given; a REF effect
  allele gets ``2 - sum(DS)``.
* A missing call (``./.``, or a half call) is NaN; the caller drops or mean-imputes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cyvcf2 import VCF

from services.risk.errors import GenotypeFileError
from services.risk.prs._build import build_from_vcf_header

__all__ = ["effect_dosage", "has_ds", "open_vcf", "vcf_build"]

Floats = npt.NDArray[np.float64]


def open_vcf(path: str | Path, samples: list[str] | None = None) -> Any:
    """A cyvcf2 reader (GT as 0/1/2/3-missing), restricted to ``samples`` when given."""
    p = Path(path)
    if not p.is_file():
        raise GenotypeFileError("file not found", location=str(p))
    try:
        probe = VCF(str(p), lazy=True)
    except Exception:  # cyvcf2/htslib raise plain OSError or Exception
        raise GenotypeFileError("cannot be read as VCF/BCF", location=str(p)) from None
    if samples is not None:
        known = set(probe.samples)
        absent = [s for s in samples if s not in known]
        if absent:
            raise GenotypeFileError(f"sample {absent[0]!r} is not in the file ({len(known)} samples)", location=str(p))
        probe.close()
        return VCF(str(p), gts012=True, samples=samples, lazy=True)
    probe.close()
    return VCF(str(p), gts012=True, lazy=True)


def vcf_build(reader: Any) -> tuple[str | None, str]:
    """(GRCh37/GRCh38/None, how it was determined) from the reader's header."""
    return build_from_vcf_header(str(reader.raw_header))


def has_ds(reader: Any) -> bool:
    """True when the header declares FORMAT/DS."""
    return "##FORMAT=<ID=DS," in str(reader.raw_header)


def effect_dosage(record: Any, allele: int, use_ds: bool) -> Floats:
    """Dosage of allele ``allele`` (0 = REF, k = k-th ALT) per sample; NaN where missing."""
    if use_ds:
        ds = record.format("DS")
        if ds is not None:
            values = np.asarray(ds, dtype=np.float64)
            values[(values < -1e-6) | (values > 2.0 + 1e-6)] = np.nan  # htslib's missing float is a huge negative
            if allele == 0:
                out: Floats = 2.0 - values.sum(axis=1)
                return out
            return np.ascontiguousarray(values[:, allele - 1])
    if len(record.ALT) == 1:
        g = np.asarray(record.gt_types, dtype=np.float64)
        g[g == 3] = np.nan
        alt: Floats = g if allele == 1 else 2.0 - g
        return alt
    called = record.genotype.array()[:, :-1]
    missing = (called == -1).any(axis=1)
    count: Floats = np.asarray((called == allele).sum(axis=1), dtype=np.float64)
    if called.shape[1] > 1:
        haploid = (called[:, 1:] == -2).all(axis=1)
        count[haploid] *= 2.0
    count[missing] = np.nan
    return count
