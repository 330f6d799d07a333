"""Benchmark: twinrx polygenic scoring against ``plink2 --score`` on the same VCF.

Prints seconds (median of a few runs) and the ratio twinrx / plink2 for:

1. PGS001229 (chr22 subset) on ``cineca_synthetic_subset.vcf.gz``, one sample;
2. the same for all 2504 samples;
3. a synthetic 100,000-variant score on a synthetic VCF generated here (100k variants x ``--samples``).

twinrx is timed twice: in-process (``score_vcf`` only, modules already imported) and as a fresh process
(``python -c`` importing the library and scoring, comparable with plink2's process time). plink2 runs
with ``--threads 1`` (twinrx is single-threaded; the machine is shared). Never run by ``make test``.

    .venv/bin/python bench/prs.py [--repeat 3] [--samples 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# One thread for numpy's BLAS too, so the comparison with plink2 --threads 1 is single-threaded on both sides.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.risk.prs import PrsOptions, read_scoring_file, score_vcf  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "risk" / "prs"
ALLELES = np.array(list("ACGT"))


def _timed(fn: Callable[[], object], child: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call; CPU of child processes when ``child``."""
    who = resource.RUSAGE_CHILDREN if child else resource.RUSAGE_SELF
    before = resource.getrusage(who)
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(who)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_synthetic(out: Path, n_variants: int, n_samples: int, seed: int = 7) -> tuple[Path, Path]:
    """A GRCh37 chr1 VCF (gzip) and a matching PGS-format scoring file with ``n_variants`` rows."""
    vcf = out / f"synthetic_{n_variants}x{n_samples}.vcf.gz"
    score = out / f"synthetic_score_{n_variants}.txt"
    if vcf.is_file() and score.is_file():  # kept from an earlier run (--keep)
        return vcf, score
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(240_000_000, size=n_variants, replace=False) + 10_000)
    ref_i = rng.integers(0, 4, n_variants)
    alt_i = (ref_i + rng.integers(1, 4, n_variants)) % 4
    # Avoid strand-ambiguous pairs so every variant is scored (A<->T is 0<->3, C<->G is 1<->2).
    ambiguous = (ref_i + alt_i) == 3
    alt_i[ambiguous] = (alt_i[ambiguous] + 1) % 4
    alt_i[alt_i == ref_i] = (ref_i[alt_i == ref_i] + 2) % 4
    freqs = rng.uniform(0.05, 0.5, n_variants)
    codes = np.frombuffer(b"0/0\t0/1\t1/1\t", dtype=np.uint8).reshape(3, 4)
    with gzip.open(vcf, "wb", compresslevel=1) as fh:
        fh.write(b"##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n")
        fh.write(b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t")
        fh.write("\t".join(f"S{i}" for i in range(n_samples)).encode() + b"\n")
        for start in range(0, n_variants, 2000):
            stop = min(start + 2000, n_variants)
            g = rng.binomial(2, freqs[start:stop, None], size=(stop - start, n_samples))
            rows = codes[g].reshape(stop - start, 4 * n_samples)
            rows[:, -1] = ord("\n")
            for k in range(stop - start):
                i = start + k
                r, a = ALLELES[ref_i[i]], ALLELES[alt_i[i]]
                fh.write(
                    f"1\t{positions[i]}\t1:{positions[i]}\t{r}\t{a}\t.\tPASS\t.\tGT\t".encode() + rows[k].tobytes()
                )
    weights = rng.normal(0, 0.01, n_variants)
    effect_is_alt = rng.random(n_variants) < 0.5
    with score.open("w") as fh:
        fh.write("#pgs_id=SYNTH100K\n#genome_build=GRCh37\n")
        fh.write("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
        for i in range(n_variants):
            r, a = ALLELES[ref_i[i]], ALLELES[alt_i[i]]
            e, o = (a, r) if effect_is_alt[i] else (r, a)
            fh.write(f"1\t{positions[i]}\t{e}\t{o}\t{weights[i]:.6g}\n")
    return vcf, score


def plink2_score_file(score: Path, vcf: Path, out: Path) -> Path:
    """The matched variants as a plink2 --score file (ID, scored allele, weight), IDs as chr:pos:ref:alt."""
    sf = read_scoring_file(score)
    result = score_vcf(sf, vcf, detail=True, samples=None)
    path = out / f"{score.stem}.plink2.tsv"
    with path.open("w") as fh:
        for i, d in enumerate(result.detail):
            if d.status == "matched":
                fh.write(f"{d.chrom}:{d.pos}:{d.target_ref}:{','.join(d.target_alt)}\t{d.scored_allele}\t"
                         f"{float(sf.weights[i, 0])!r}\n")  # fmt: skip
    return path


def run_plink2(vcf: Path, score: Path, out: Path, sample: str | None) -> None:
    cmd = ["plink2", "--vcf", str(vcf), "--set-all-var-ids", "@:#:$r:$a", "--new-id-max-allele-len", "1000",
           "--score", str(score), "1", "2", "3", "cols=+scoresums,+denom", "no-mean-imputation",
           "--threads", "1", "--memory", "1024", "--out", str(out / "plink2")]  # fmt: skip
    if sample:
        keep = out / "keep.txt"
        keep.write_text(f"{sample}\n")
        cmd += ["--keep", str(keep)]
    subprocess.run(cmd, check=True, capture_output=True)


def run_twinrx_process(vcf: Path, score: Path, sample: str | None, min_overlap: float) -> None:
    samples = f"[{sample!r}]" if sample else "None"
    code = (
        "from services.risk.prs import PrsOptions, score_vcf; "
        f"score_vcf({str(score)!r}, {str(vcf)!r}, samples={samples}, options=PrsOptions(min_overlap={min_overlap}))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def bench(label: str, vcf: Path, score: Path, tmp: Path, sample: str | None, repeat: int, min_overlap: float) -> None:
    """Runs twinrx (in-process and as a process) and plink2 back to back ``repeat`` times; prints medians.

    The machine is shared, so besides wall time the CPU time (user + system) is reported; each ratio is
    the median of the per-round ratios, so a load spike hits both sides of a round alike.
    """
    p2score = plink2_score_file(score, vcf, tmp)
    samples = [sample] if sample else None
    opts = PrsOptions(min_overlap=min_overlap)
    rounds = []
    for _ in range(repeat):
        ours = _timed(lambda: score_vcf(score, vcf, samples=samples, options=opts), child=False)
        proc = _timed(lambda: run_twinrx_process(vcf, score, sample, min_overlap), child=True)
        theirs = _timed(lambda: run_plink2(vcf, p2score, tmp, sample), child=True)
        rounds.append((ours, proc, theirs))

    def med(k: int, j: int) -> float:
        return statistics.median(r[k][j] for r in rounds)

    def ratio(k: int, j: int) -> float:
        return statistics.median(r[k][j] / r[2][j] for r in rounds)

    print(f"{label}")
    print(
        f"  wall  twinrx {med(0, 0):7.3f} s  (process {med(1, 0):7.3f} s)  plink2 {med(2, 0):7.3f} s  "
        f"ratio {ratio(0, 0):5.2f}  (process {ratio(1, 0):5.2f})"
    )
    print(f"  cpu   twinrx {med(0, 1):7.3f} s  (process {med(1, 1):7.3f} s)  plink2 {med(2, 1):7.3f} s  "
          f"ratio {ratio(0, 1):5.2f}  (process {ratio(1, 1):5.2f})", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="twinrx PRS vs plink2 --score")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=500, help="samples in the synthetic 100k-variant VCF")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep generated files in this directory")
    args = parser.parse_args()
    if shutil.which("plink2") is None:
        print("plink2 not installed (apt-get install plink2)", file=sys.stderr)
        return 1
    if not SHARED.is_dir():
        print(f"reference data not found at {SHARED}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        cineca = SHARED / "cineca_synthetic_subset.vcf.gz"
        pgs = SHARED / "PGS001229_22.txt"
        print(
            f"{args.repeat} rounds (medians); plink2 --threads 1; twinrx single-threaded; load {os.getloadavg()[0]:.1f}"
        )
        bench("PGS001229 x cineca, 1 sample", cineca, pgs, tmp, "HG00096_HG00096", args.repeat, 0.75)
        bench("PGS001229 x cineca, 2504 samples", cineca, pgs, tmp, None, args.repeat, 0.75)
        start = time.perf_counter()
        vcf, score = make_synthetic(tmp, args.variants, args.samples)
        print(f"(generated {args.variants} variants x {args.samples} samples in {time.perf_counter() - start:.1f} s)")
        label = f"synthetic {args.variants // 1000}k variants x {args.samples} samples"
        bench(label, vcf, score, tmp, None, args.repeat, 0.75)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
