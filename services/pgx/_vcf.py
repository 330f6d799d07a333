"""Read the PGx positions of a VCF/BCF (plain, gzip/bgzip, indexed or not) into per-sample site calls.

Calls are translated into the definition's allele spelling: split or joined multi-allelic records are
merged, indels anchored differently from the definition are normalised (suffix/prefix trimming) before
comparison, gVCF reference blocks (``END=``) are expanded, and symbolic alleles (``<NON_REF>``, ``*``) are
treated as missing. Absent positions and ``./.`` are missing: never reference.
"""

from __future__ import annotations

import bisect
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.pgx import _kb
from services.pgx._tabix import TabixIndex, read_tbi, region_lines
from services.pgx._vcf_header import check_file
from services.pgx._vcf_text import WINDOW, parse_line, scan
from services.pgx.errors import GenomeBuildError, SampleNotFound, VcfFormatError

MIN_MISMATCHES = 5  # REF disagreements needed before the whole file is refused as another build


@dataclass(frozen=True)
class SiteCall:
    """One sample's genotype at one definition position, alleles spelled as in the definition."""

    alleles: tuple[str | None, ...]  # None = this strand's allele is missing ("0/." or ".|1")
    phased: bool
    ps: int | None = None


@dataclass
class VcfData:
    samples: list[str]
    # sample -> gene -> variant index -> call
    calls: dict[str, dict[str, dict[int, SiteCall]]]
    warnings: dict[str, list[str]] = field(default_factory=dict)  # gene -> file-level warnings
    used_index: bool = False
    ref_checked: int = 0  # records at a definition position whose REF was compared with GRCh38
    ref_mismatched: int = 0


@dataclass(frozen=True)
class _Target:
    gene: str
    index: int
    pos: int
    ref: str
    alts: tuple[str, ...]


def _norm(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def _chrom_key(chrom: str) -> str:
    c = chrom[3:] if chrom.lower().startswith("chr") else chrom
    return "M" if c in ("MT", "M") else c


class _Targets:
    """All definition positions of the callable genes, by chromosome, sorted."""

    def __init__(self, genes: tuple[str, ...]) -> None:
        by_chrom: dict[str, list[_Target]] = {}
        self.regions: dict[str, tuple[str, int, int]] = {}
        for gene in genes:
            d = _kb.definition(gene)
            chrom = _chrom_key(d["chromosome"])
            ignored = {(p, r) for p, r in d["ignored_positions"]}
            positions = []
            for i, v in enumerate(d["variants"]):
                if (v["pos"], v["ref"]) in ignored:
                    continue
                by_chrom.setdefault(chrom, []).append(_Target(gene, i, v["pos"], v["ref"], tuple(v["alts"])))
                positions.append(v["pos"])
            self.regions[gene] = (chrom, min(positions), max(positions) + 100)
        self.by_chrom = {c: sorted(ts, key=lambda t: t.pos) for c, ts in by_chrom.items()}
        self.pos_list = {c: [t.pos for t in ts] for c, ts in self.by_chrom.items()}

    def merged_regions(self) -> list[tuple[str, int, int]]:
        """Gene regions (widened by WINDOW for indels anchored earlier), overlaps merged: each record once."""
        out: list[tuple[str, int, int]] = []
        for chrom, start, end in sorted({(c, max(s - WINDOW, 1), e) for c, s, e in self.regions.values()}):
            if out and out[-1][0] == chrom and start <= out[-1][2]:
                out[-1] = (chrom, out[-1][1], max(out[-1][2], end))
            else:
                out.append((chrom, start, end))
        return out

    def overlapping(self, chrom: str, start: int, end: int) -> list[_Target]:
        positions = self.pos_list.get(chrom)
        if positions is None:
            return []
        lo = bisect.bisect_left(positions, start)
        hi = bisect.bisect_right(positions, end)
        return self.by_chrom[chrom][lo:hi]


def _to_definition(target: _Target, rec_pos: int, rec_ref: str, allele: str) -> str | None:
    """Spell a record allele as the definition does; None if it cannot be compared (symbolic)."""
    if allele.startswith("<") or allele in ("*", "."):
        return None
    if allele == rec_ref:
        return target.ref
    if rec_pos == target.pos and rec_ref == target.ref:
        return allele
    key = _norm(rec_pos, rec_ref, allele)
    for alt in target.alts:
        if _norm(target.pos, target.ref, alt) == key:
            return alt
    return f"{allele}@{rec_pos}"  # undocumented allele (kept distinct from every defined allele)


def _merge(calls: list[SiteCall], ref: str) -> SiteCall | None:
    """Combine the calls of split multi-allelic records at one position."""
    if len(calls) == 1:
        return calls[0]
    ploidy = max(len(c.alleles) for c in calls)
    combined: list[str | None] = [ref] * ploidy
    for call in calls:
        for slot, allele in enumerate(call.alleles):
            if allele is None:
                return None
            if allele == ref:
                continue
            if combined[slot] == ref:
                combined[slot] = allele
            elif ref in combined:
                combined[combined.index(ref)] = allele
            else:
                return None
    return SiteCall(tuple(combined), all(c.phased for c in calls), calls[0].ps)


def read_vcf(path: Path, *, sample: str | None = None, genes: tuple[str, ...] | None = None) -> VcfData:
    """Site calls at every definition position of ``genes`` (default: all VCF-callable genes)."""
    info = check_file(path)
    targets = _Targets(genes or _kb.callable_genes())
    tbi = Path(f"{path}.tbi")
    vcf: Any = None
    if info.samples is not None:
        names = list(info.samples)
    else:
        vcf = _open_htslib(path)
        names = list(vcf.samples)
    if not names:
        raise VcfFormatError("the VCF has no sample columns", path=str(path), line=info.header_lines, field="#CHROM")
    if sample is not None and sample not in names:
        raise SampleNotFound(f"sample {sample!r} not found (the file has {len(names)} sample(s))", location=str(path))
    wanted = [names.index(sample)] if sample is not None else list(range(len(names)))
    data = VcfData(samples=[names[i] for i in wanted], calls={names[i]: {} for i in wanted})
    raw: dict[tuple[str, str, int], list[SiteCall]] = {}
    blocks: dict[tuple[str, str, int], SiteCall] = {}
    records: Any
    if info.kind == "vcf.gz" and tbi.is_file():  # tabix: read only the PGx regions, in Python
        data.used_index = True
        records = _tabix_records(path, read_tbi(tbi), targets)
    elif info.has_index or info.kind == "bcf":  # CSI-indexed VCF or BCF: htslib
        records = _records(vcf if vcf is not None else _open_htslib(path), path, targets, info.has_index, data)
    else:  # unindexed text VCF: a byte-level scan is ~10x faster than parsing every record
        records = scan(path, targets.pos_list, compressed=info.kind == "vcf.gz")
    for variant in records:
        _check_allele_indexes(variant, wanted, path)
        _collect(variant, targets, names, wanted, raw, blocks, data)
    if data.ref_mismatched >= MIN_MISMATCHES and data.ref_mismatched * 2 > data.ref_checked:
        raise GenomeBuildError(
            f"REF differs from GRCh38 at {data.ref_mismatched} of {data.ref_checked} PGx positions: "
            "the file does not look like GRCh38 (GRCh37?)",
            path=str(path),
            field="REF",
        )
    for (name, gene, index), calls in raw.items():
        ref = _kb.definition(gene)["variants"][index]["ref"]
        merged = _merge(calls, ref)
        if merged is None:
            data.warnings.setdefault(gene, []).append(f"conflicting multi-allelic records at position {index + 1}")
            continue
        data.calls[name].setdefault(gene, {})[index] = merged
    for (name, gene, index), call in blocks.items():
        data.calls[name].setdefault(gene, {}).setdefault(index, call)
    return data


def _open_htslib(path: Path) -> Any:
    from cyvcf2 import VCF

    try:
        return VCF(str(path), lazy=True)
    except Exception as exc:  # htslib reports every open failure the same way
        raise VcfFormatError(f"cannot open as VCF/BCF: {exc}", path=str(path)) from exc


def _tabix_records(path: Path, index: TabixIndex, targets: _Targets) -> Any:
    names = set(index.names)
    for chrom, start, end in targets.merged_regions():
        candidates = [f"chr{chrom}", chrom] + (["chrMT", "MT"] if chrom == "M" else [])
        name = next((c for c in candidates if c in names), None)
        if name is None:
            continue
        for line in region_lines(path, index, name, start, end):
            yield parse_line(line, path, None)  # a region's line numbers are not the file's


def _records(vcf: Any, path: Path, targets: _Targets, has_index: bool, data: VcfData) -> Any:
    if has_index:
        prefix = "chr" if any(str(s).startswith("chr") for s in vcf.seqnames) else ""
        data.used_index = True

        def regions() -> Any:
            for chrom, start, end in targets.merged_regions():
                name = prefix + ("MT" if chrom == "M" and not prefix else chrom)
                try:
                    with warnings.catch_warnings():  # "no intervals found": a gene absent from the file
                        warnings.simplefilter("ignore", UserWarning)
                        records = list(vcf(f"{name}:{start}-{end}"))
                    yield from records
                except Exception as exc:
                    raise VcfFormatError(f"cannot read region {name}:{start}-{end}: {exc}", path=str(path)) from exc

        return regions()

    def stream() -> Any:
        try:
            yield from vcf
        except Exception as exc:
            raise VcfFormatError(f"unreadable record or truncated file: {exc}", path=str(path)) from exc

    return stream()


def _check_allele_indexes(variant: Any, wanted: list[int], path: Path) -> None:
    """A GT allele index past the record's ALT alleles (htslib reads ``0/5`` with one ALT) is an error."""
    alt_count = len(variant.ALT)
    for i in wanted:
        for code in variant.genotypes[i][:-1]:
            if code > alt_count:
                raise VcfFormatError(
                    f"allele index {code} but the record at {variant.CHROM}:{variant.POS} has {alt_count} ALT "
                    f"allele{'' if alt_count == 1 else 's'}",
                    path=str(path),
                    field="GT",
                )


def _collect(
    variant: Any,
    targets: _Targets,
    names: list[str],
    wanted: list[int],
    raw: dict[tuple[str, str, int], list[SiteCall]],
    blocks: dict[tuple[str, str, int], SiteCall],
    data: VcfData,
) -> None:
    chrom = _chrom_key(variant.CHROM)
    pos: int = variant.POS
    ref: str = variant.REF
    end_info = variant.INFO.get("END")
    end = int(end_info) if end_info is not None else pos + len(ref) - 1
    hits = targets.overlapping(chrom, pos, max(end, pos + len(ref) - 1))
    if not hits:
        return
    alleles: list[str] = [ref, *variant.ALT]
    genotypes = variant.genotypes
    ps_values = _phase_sets(variant)
    is_block = end_info is not None and all(a.startswith("<") for a in variant.ALT)
    for target in hits:
        if target.pos != pos and not is_block:
            indel_def = len(target.ref) != 1 or any(len(a) != 1 for a in target.alts)
            if not indel_def or len(ref) == 1:
                continue
        elif not is_block:
            data.ref_checked += 1
            if not (ref.startswith(target.ref) or target.ref.startswith(ref)):
                data.ref_mismatched += 1
                warning = f"REF {ref} at {variant.CHROM}:{pos} differs from GRCh38 {target.ref}: genotype discarded"
                data.warnings.setdefault(target.gene, []).append(warning)
                continue
        for i in wanted:
            gt = genotypes[i]
            codes, phased = gt[:-1], bool(gt[-1])
            if not codes or all(c < 0 for c in codes):
                continue  # missing: never reference
            if len(codes) > 2:
                data.warnings.setdefault(target.gene, []).append("genotype with more than two alleles: first two used")
                codes = codes[:2]
            if is_block:
                if all(c == 0 for c in codes):
                    call = SiteCall(tuple(target.ref for _ in codes), True, None)
                    blocks[(names[i], target.gene, target.index)] = call
                continue
            spelled = [_to_definition(target, pos, ref, alleles[c]) if c >= 0 else None for c in codes]
            if all(s is None for s in spelled):
                continue
            ps = ps_values[i] if ps_values is not None else None
            call = SiteCall(tuple(spelled), phased, ps)
            raw.setdefault((names[i], target.gene, target.index), []).append(call)


def _phase_sets(variant: Any) -> list[int | None] | None:
    try:
        values = variant.format("PS")
    except Exception:
        return None
    if values is None:
        return None
    out: list[int | None] = []
    for row in values:
        v = int(row[0])
        out.append(v if v >= 0 else None)
    return out
