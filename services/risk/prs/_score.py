"""Scoring VCF/BCF genotypes with a scoring file, equal to ``plink2 --score`` (cols=+scoresums,+denom).

One pass over the VCF: each record at a scored position is matched by alleles (:mod:`._match`) and its
effect-allele dosages are added, a block at a time, into the per-sample sums (:mod:`._accumulate`).
Plain-GT text VCFs are decoded with numpy (:mod:`._fastgt`); anything else (BCF, DS dosages, haploid or
multi-digit calls, a few requested samples) is read with cyvcf2 (:mod:`._genotypes`). Both give the same
numbers.

* SUM = sum of weight x dosage; ALLELE_CT = 2 x non-missing variants; AVG = SUM / DENOM.
* Without mean imputation a missing genotype adds 0 and DENOM = ALLELE_CT (``no-mean-imputation``).
* With mean imputation it adds 2 x the effect-allele frequency among the file's samples and
  DENOM = 2 x matched variants (plink2's default).
* ``is_dominant``: min(dosage, 1); ``is_recessive``: max(dosage - 1, 0) (plink2 modifiers).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.risk.errors import BuildMismatchError, CaseInputError, GenotypeFileError, NoMatchError, OverlapError
from services.risk.prs._accumulate import Accumulator
from services.risk.prs._build import normalise_build, normalise_chrom
from services.risk.prs._fastgt import NotPlainGT, decode_block, is_text_vcf, plain_gt_sites
from services.risk.prs._genotypes import effect_dosage, has_ds, open_vcf, vcf_build
from services.risk.prs._match import match
from services.risk.prs._result import (
    CHRX_NOTE,
    PrsOptions,
    PrsResult,
    SampleScore,
    ScoreValue,
    VariantCounts,
    VariantMatch,
)
from services.risk.prs._scorefile import ScoreFile, read_scoring_file

__all__ = ["score_vcf"]

_FEW_SAMPLES = 32
Floats = npt.NDArray[np.float64]


def _index(sf: ScoreFile) -> dict[tuple[str, int], list[int]]:
    index: dict[tuple[str, int], list[int]] = {}
    for i, key in enumerate(zip(sf.chrom, sf.pos, strict=True)):
        index.setdefault(key, []).append(i)
    return index


def _check_build(sf: ScoreFile, build: str | None, how: str, vcf: str) -> None:
    if sf.build and build and sf.build != build:
        raise BuildMismatchError(
            f"the VCF is {build} ({how}) but the scoring file is {sf.build}; use a scoring file harmonised to "
            f"{build} (PGS Catalog hm_* files) or lift the genotypes over",
            location=vcf,
        )


def _fingerprint(sf: ScoreFile, matched: list[int], options: PrsOptions) -> str:
    h = hashlib.sha256()
    h.update(options.model_dump_json(exclude={"vcf_build"}).encode())
    for i in matched:
        h.update(f"{sf.chrom[i]}:{sf.pos[i]}:{sf.effect[i]}:{sf.weights[i].tolist()}\n".encode())
    return h.hexdigest()


class _Run:
    """Matching state and sums for one pass over the genotypes."""

    def __init__(self, sf: ScoreFile, n_samples: int, opts: PrsOptions) -> None:
        self.sf = sf
        self.opts = opts
        self.status: list[str | None] = [None] * sf.n_variants
        self.reasons: list[str] = ["absent"] * sf.n_variants
        self.targets: list[tuple[str, list[str], str | None] | None] = [None] * sf.n_variants
        self.acc = Accumulator(n_samples, sf.weights, opts.mean_impute)
        self.chrx = False

    def site(self, hits: list[int], ref: str, alts: list[str], on_match: Callable[[int, int], None]) -> None:
        """Match the variants at one record (alleles in upper case); ``on_match(variant, allele)`` for matches."""
        sf, opts = self.sf, self.opts
        for i in hits:
            if self.status[i] in ("matched", "excluded"):
                continue
            m = match(sf.effect[i], sf.other[i], ref, alts,
                      keep_ambiguous=opts.keep_ambiguous, keep_multiallelic=opts.keep_multiallelic)  # fmt: skip
            self.status[i], self.reasons[i] = m.status, m.reason
            self.targets[i] = (ref, alts, ([ref, *alts][m.allele]) if m.allele >= 0 else None)
            if m.status == "matched":
                on_match(i, m.allele)
                self.chrx = self.chrx or sf.chrom[i] == "X"


_COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}


def _same_strand_snp(effect: str, other: str | None) -> bool:
    """Single-base effect and other alleles that are not strand-ambiguous (A/T, C/G)."""
    return other is not None and len(effect) == 1 and len(other) == 1 and _COMPLEMENT.get(effect) != other


def _fast_pass(sf: ScoreFile, vcf: str | Path, n_samples: int, opts: PrsOptions) -> _Run | None:
    """The numpy pass over a plain-GT text VCF (lines decoded in blocks), or None when it needs cyvcf2."""
    index = _index(sf)
    run = _Run(sf, n_samples, opts)
    block = max(16, min(1024, (1 << 21) // max(n_samples, 1)))
    bodies: list[bytes] = []
    alleles: list[int] = []
    variants: list[int] = []

    def flush() -> None:
        if variants:
            dosage = decode_block(bodies, alleles, n_samples)
            run.acc.add_block(dosage, list(variants), sf.effect_type[variants])
            bodies.clear()
            alleles.clear()
            variants.clear()

    status, effect, other = run.status, sf.effect, sf.other
    try:
        for chrom, pos, ref, alts, body in plain_gt_sites(vcf, n_samples, index):
            hits = index[(chrom, pos)]
            i = hits[0]
            # Inline the commonest case (one biallelic, non-ambiguous SNP on the same strand); else match().
            if len(hits) == 1 and len(alts) == 1 and status[i] is None and _same_strand_snp(effect[i], other[i]):
                allele = (
                    1
                    if (effect[i], other[i]) == (alts[0], ref)
                    else 0
                    if (effect[i], other[i]) == (ref, alts[0])
                    else -1
                )
                if allele >= 0:
                    status[i] = "matched"
                    run.reasons[i] = "effect allele = ALT" if allele else "effect allele = REF"
                    run.targets[i] = (ref, alts, effect[i])
                    run.chrx = run.chrx or chrom == "X"
                    bodies.append(body)
                    alleles.append(allele)
                    variants.append(i)
                    if len(variants) >= block:
                        flush()
                    continue

            def take(i: int, allele: int, body: bytes = body) -> None:
                bodies.append(body)
                alleles.append(allele)
                variants.append(i)

            run.site(hits, ref, alts, take)
            if len(variants) >= block:
                flush()
        flush()
    except NotPlainGT:
        return None
    return run


def _cyvcf2_pass(sf: ScoreFile, reader: Any, vcf: str | Path, opts: PrsOptions, use_ds: bool) -> _Run:
    index = _index(sf)
    run = _Run(sf, len(reader.samples), opts)
    try:
        for record in reader:
            hits = index.get((normalise_chrom(record.CHROM), record.POS))
            if hits:

                def take(i: int, allele: int, record: Any = record) -> None:
                    run.acc.add(effect_dosage(record, allele, use_ds), i, int(sf.effect_type[i]))

                run.site(hits, record.REF.upper(), [a.upper() for a in record.ALT], take)
    except GenotypeFileError:
        raise
    except Exception as exc:  # htslib read errors surface as plain exceptions mid-file
        raise GenotypeFileError(f"cannot be read past a record ({exc.__class__.__name__})", location=str(vcf)) from None
    return run


def score_vcf(
    scoring: ScoreFile | str | Path,
    vcf: str | Path,
    *,
    samples: list[str] | None = None,
    options: PrsOptions | None = None,
    detail: bool = False,
    fast: bool = True,
) -> PrsResult:
    """Score every (or the given) sample of ``vcf`` with ``scoring``; see the module docstring.

    ``fast=False`` skips the numpy fast path for plain-GT text VCFs (the result is the same).
    Raises ScoreFileError / GenotypeFileError for unreadable files, BuildMismatchError when builds differ,
    NoMatchError when nothing matches and OverlapError when fewer than ``min_overlap`` match.
    """
    opts = options or PrsOptions()
    sf = scoring if isinstance(scoring, ScoreFile) else read_scoring_file(scoring, use_harmonised=opts.use_harmonised)
    header = open_vcf(vcf, samples)  # validates the path and the requested samples
    build, how = vcf_build(header)
    if opts.vcf_build:
        build, how = normalise_build(opts.vcf_build), "given"
        if build is None:
            raise CaseInputError(f"must be GRCh37 or GRCh38 (got {opts.vcf_build!r})", location="vcf_build")
    _check_build(sf, build, how, str(vcf))
    use_ds = opts.use_dosage and has_ds(header)
    if samples is None:
        all_samples = list(header.samples)
    else:
        everyone = open_vcf(vcf)
        all_samples = list(everyone.samples)
        everyone.close()
    header.close()
    wanted = samples if samples is not None else list(all_samples)
    # htslib parses only the requested samples, so a few samples read faster through cyvcf2.
    few = samples is not None and not opts.mean_impute and len(samples) <= _FEW_SAMPLES
    run = _fast_pass(sf, vcf, len(all_samples), opts) if fast and not few and not use_ds and is_text_vcf(vcf) else None
    if run is not None:
        position = {s: i for i, s in enumerate(all_samples)}
        rows = [position[s] for s in wanted]
    else:
        # Mean imputation needs frequencies from every sample, so read all and select afterwards.
        subset = None if opts.mean_impute else samples
        reader = open_vcf(vcf, subset)
        try:
            run = _cyvcf2_pass(sf, reader, vcf, opts, use_ds)
            position = {s: i for i, s in enumerate(reader.samples)}
        finally:
            reader.close()
        rows = [position[s] for s in wanted]
    run.acc.flush()
    return _result(sf, str(vcf), build, how, opts, run, list(zip(wanted, rows, strict=True)), detail, use_ds)


def _result(
    sf: ScoreFile,
    vcf: str,
    build: str | None,
    how: str,
    opts: PrsOptions,
    run: _Run,
    selected: list[tuple[str, int]],
    detail: bool,
    use_ds: bool,
) -> PrsResult:
    status, reasons, targets, acc, chrx = run.status, run.reasons, run.targets, run.acc, run.chrx
    matched_idx = [i for i, s in enumerate(status) if s == "matched"]
    excluded = Counter(reasons[i] for i, s in enumerate(status) if s == "excluded")
    unmatched = Counter(reasons[i] for i, s in enumerate(status) if s not in ("matched", "excluded"))
    if sf.unpositioned:
        unmatched["no harmonised position"] = sf.unpositioned
    total = sf.n_variants + sf.unpositioned
    counts = VariantCounts(
        total=total, matched=len(matched_idx), excluded=dict(sorted(excluded.items())),
        unmatched=dict(sorted(unmatched.items())),
    )  # fmt: skip
    summary = (
        f"excluded: {', '.join(f'{k} {v}' for k, v in counts.excluded.items()) or 'none'}; "
        f"unmatched: {', '.join(f'{k} {v}' for k, v in counts.unmatched.items()) or 'none'}"
    )
    if not matched_idx:
        raise NoMatchError(
            f"no scoring-file variant matched the genotypes (0 of {total}; {summary})",
            location=sf.path,
            matched=0,
            total=total,
        )
    if len(matched_idx) < opts.min_overlap * total:
        raise OverlapError(
            f"only {len(matched_idx)} of {total} scoring-file variants ({100 * len(matched_idx) / total:.1f}%) matched "
            f"the genotypes; the minimum is {100 * opts.min_overlap:g}% ({summary})",
            location=sf.path,
            matched=len(matched_idx),
            total=total,
        )
    denom_imputed = 2 * acc.n_matched
    sums = acc.sums.tolist()
    cts = acc.allele_ct.tolist()
    out = []
    for name, row in selected:
        allele_ct = int(cts[row])
        denom = denom_imputed if opts.mean_impute else allele_ct
        scores = {
            score: ScoreValue(sums[row][k], sums[row][k] / denom if denom else float("nan"), allele_ct, denom)
            for k, score in enumerate(sf.score_names)
        }
        out.append(SampleScore(name, scores))
    notes = []
    if chrx:
        notes.append(CHRX_NOTE)
    if use_ds:
        notes.append("dosages from FORMAT/DS")
    if sf.build is None or build is None:
        notes.append(f"genome build not checked (scoring file: {sf.build or 'not stated'}; VCF: {how})")
    details = []
    if detail:
        for i in range(sf.n_variants):
            target = targets[i]
            details.append(
                VariantMatch(
                    chrom=sf.chrom[i],
                    pos=sf.pos[i],
                    effect_allele=sf.effect[i],
                    other_allele=sf.other[i],
                    status=status[i] if status[i] in ("matched", "excluded") else "unmatched",
                    reason=reasons[i],
                    target_ref=target[0] if target else None,
                    target_alt=target[1] if target else [],
                    scored_allele=target[2] if target and status[i] == "matched" else None,
                )  # fmt: skip
            )
    return PrsResult.model_construct(  # built here, so not validated again
        scoring_file=Path(sf.path).name,
        pgs_id=sf.pgs_id,
        score_names=sf.score_names,
        score_build=sf.build,
        vcf=Path(vcf).name,
        vcf_build=build,
        vcf_build_source=how,
        options=opts,
        variants=counts,
        samples=out,
        notes=notes,
        fingerprint=_fingerprint(sf, matched_idx, opts),
        detail=details,
    )
