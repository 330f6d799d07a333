"""Benchmark: pgx call_vcf on a whole-genome-sized VCF, with and without an index, and PyPGx if available.

Usage: ``python bench/pgx.py [--records 5000000] [--workdir DIR] [--pypgx-venv DIR]``

Builds (once, cached in --workdir) a single-sample bgzipped VCF of about ``--records`` records with every
PharmCAT position inside (GRCh38, chr-prefixed), indexes a copy with tabix, then times ``call_vcf``.
PyPGx runs in its own virtualenv (design section 7: ``pypgx`` with ``pandas<2.2`` and ``numpy<2``); if
that venv or its resource bundle is absent the ratio is reported as unavailable (never estimated).
Prints figures only; never part of ``make test``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.pgx import call_vcf  # noqa: E402

POSITIONS = REPO.parent / "shared" / "data" / "pgx" / "pharmcat-misc" / "pharmcat_positions.vcf"
CHROMS = [f"chr{i}" for i in range(1, 23)] + ["chrX"]
CHROM_LEN = 3_000_000_000 // len(CHROMS)
SHARED_GENES = ("CYP2B6", "CYP2C19", "CYP2C9", "CYP3A5", "DPYD", "NUDT15", "SLCO1B1", "TPMT", "UGT1A1")


def _pgx_records() -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for line in POSITIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        gt = "0/1" if len(out.get(f[0], [])) % 7 == 3 else "0/0"
        out.setdefault(f[0], []).append((int(f[1]), "\t".join([*f[:5], ".", "PASS", ".", "GT", gt])))
    return {c: sorted(v) for c, v in out.items()}


def build(workdir: Path, records: int) -> tuple[Path, Path]:
    plain_gz = workdir / f"wgs{records}.vcf.gz"
    indexed = workdir / f"wgs{records}.indexed.vcf.gz"
    if plain_gz.is_file() and Path(f"{indexed}.tbi").is_file():
        return plain_gz, indexed
    if shutil.which("bgzip") is None or shutil.which("tabix") is None:
        sys.exit("bench: bgzip and tabix are needed (apt-get install tabix)")
    pgx = _pgx_records()
    per_chrom = records // len(CHROMS)
    step = max(CHROM_LEN // per_chrom, 2)
    t0 = time.perf_counter()
    with plain_gz.open("wb") as out:
        proc = subprocess.Popen(["bgzip", "-c", "-@", "1"], stdin=subprocess.PIPE, stdout=out)
        assert proc.stdin is not None
        header = "##fileformat=VCFv4.2\n##reference=GRCh38\n"
        header += '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        header += "".join(f"##contig=<ID={c}>\n" for c in CHROMS)
        proc.stdin.write((header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tBENCH\n").encode())
        for chrom in CHROMS:
            special = pgx.get(chrom, [])
            taken = {p for p, _ in special}
            lines: list[tuple[int, str]] = list(special)
            lines.extend(
                (p, f"{chrom}\t{p}\t.\tA\tG\t.\tPASS\t.\tGT\t0/0")
                for p in range(step, per_chrom * step, step)
                if p not in taken and not any(abs(p - q) < 2 for q in ())
            )
            lines.sort()
            proc.stdin.write(("\n".join(text for _, text in lines) + "\n").encode())
        proc.stdin.close()
        proc.wait()
    shutil.copy(plain_gz, indexed)
    subprocess.run(["tabix", "-p", "vcf", str(indexed)], check=True)
    print(f"built {plain_gz.name}: ~{records:,} records in {time.perf_counter() - t0:.1f} s")
    return plain_gz, indexed


def _time_call(path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        call_vcf(path)
        best = min(best, time.perf_counter() - t0)
    return best


def _pypgx_seconds(venv: Path | None, vcf: Path, workdir: Path) -> dict[str, float] | str:
    if venv is None or not (venv / "bin" / "pypgx").is_file():
        return "PyPGx venv not given or not installed (--pypgx-venv)"
    timings: dict[str, float] = {}
    for gene in SHARED_GENES:
        out = workdir / f"pypgx-{gene}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(venv / "bin" / "pypgx"), "run-chip-pipeline", gene, str(out), str(vcf), "--assembly", "GRCh38"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return f"PyPGx failed on {gene}: {(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"
        timings[gene] = time.perf_counter() - t0
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/twinrx-bench-pgx"))
    parser.add_argument("--pypgx-venv", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    plain, indexed = build(args.workdir, args.records)
    with_index = _time_call(indexed, args.repeat)
    without_index = _time_call(plain, 1)
    print(f"pgx call_vcf, 1 sample, {args.records:,} records, 19 genes:")
    print(f"  with tabix index : {with_index:.3f} s/sample")
    print(f"  without index    : {without_index:.3f} s/sample")
    pypgx = _pypgx_seconds(args.pypgx_venv, indexed, args.workdir)
    if isinstance(pypgx, str):
        print(f"  PyPGx ratio      : unavailable ({pypgx})")
    else:
        ours_per_gene = with_index / 19
        for gene, seconds in pypgx.items():
            print(f"  PyPGx {gene:8s}: {seconds:.2f} s  -> {seconds / ours_per_gene:.0f}x slower than twinrx per gene")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
