"""VCF reading: bad inputs (one-line errors naming file/line/field) and the input variations of issue 3."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.pgx import GenomeBuildError, SampleNotFound, VcfFormatError, call_vcf
from tests.pgx.conftest import write_vcf

# CYP2C19 *2 (rs12769205 A>G, rs4244285 G>A) and *17 (rs12248560 C>T) with rs3758581 G (the *1 backbone).
STAR2_HET = ["chr10 94775367 A G 0/1", "chr10 94781859 G A 0/1", "chr10 94842866 A G 1/1"]


def _cyp2c19(report_path: Path, **kwargs: object) -> list[str]:
    report = call_vcf(report_path, **kwargs)  # type: ignore[arg-type]
    return next(iter(report.samples.values()))["CYP2C19"].diplotypes


def test_wrong_build_from_reference_line(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "b37.vcf", STAR2_HET, extra_header="##reference=file:///ref/human_g1k_v37.fasta\n")
    with pytest.raises(GenomeBuildError) as err:
        call_vcf(vcf)
    assert str(err.value) == (
        f"{vcf}:3 (reference): GRCh37/hg19 input: twinrx reads GRCh38 only (lift over or re-align first)"
    )


def test_wrong_build_from_contig_length(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "hg19.vcf", STAR2_HET, extra_header="##contig=<ID=chr1,length=249250621>\n")
    with pytest.raises(GenomeBuildError, match=r"hg19.vcf:3 \(contig\): contig chr1 has the GRCh37 length 249250621"):
        call_vcf(vcf)


def test_truncated_gzip(tmp_path: Path) -> None:
    plain = write_vcf(tmp_path / "x.vcf", STAR2_HET)
    data = gzip.compress(plain.read_bytes())
    truncated = tmp_path / "x.vcf.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfFormatError, match=r"x.vcf.gz:2: truncated or corrupt gzip data in the header \(EOFError\)"):
        call_vcf(truncated)


def test_missing_header(tmp_path: Path) -> None:
    vcf = tmp_path / "nohead.vcf"
    vcf.write_text("##fileformat=VCFv4.2\nchr10\t94781859\t.\tG\tA\t.\tPASS\t.\tGT\t0/1\n", encoding="utf-8")
    with pytest.raises(VcfFormatError) as err:
        call_vcf(vcf)
    assert str(err.value) == f"{vcf}:2 (#CHROM): missing '#CHROM' header line before the first record"


def test_sample_not_found(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "s.vcf", STAR2_HET)
    with pytest.raises(SampleNotFound) as err:
        call_vcf(vcf, sample="NA12878")
    assert str(err.value) == f"{vcf}: sample 'NA12878' not found (the file has 1 sample(s))"


def test_not_a_vcf(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("patient notes\nline two\n", encoding="utf-8")
    with pytest.raises(VcfFormatError) as err:
        call_vcf(other)
    assert str(err.value) == f"{other}:1: not a VCF file (first line is not '##fileformat=VCF...')"


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "pgx", "call", str(other)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"twinrx: error: {other}:1: not a VCF file (first line is not '##fileformat=VCF...')"
    ]


def test_absent_and_missing_positions_are_never_reference(tmp_path: Path) -> None:
    records = [*STAR2_HET, "chr10 94761900 C T ./."]
    vcf = write_vcf(tmp_path / "m.vcf", records)
    report = call_vcf(vcf)
    result = report.samples["S1"]["CYP2C19"]
    assert "rs12248560" in result.missing_positions
    assert len(result.missing_positions) == 32  # 35 positions, 3 given


def test_chr_prefix_and_plain_contigs_agree(shared_data: Path, tmp_path: Path) -> None:
    full = shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testCyp2c19_s1s2.vcf"
    text = full.read_text(encoding="utf-8")
    plain = tmp_path / "plain.vcf"
    plain.write_text("\n".join(line[3:] if line.startswith("chr") else line for line in text.splitlines()) + "\n")
    assert _cyp2c19(plain) == _cyp2c19(full) == ["*1/*2"]


def test_multi_sample_and_sample_selection(tmp_path: Path) -> None:
    records = ["chr10 94775367 A G 0/1 0/0", "chr10 94781859 G A 0/1 0/0", "chr10 94842866 A G 1/1 0/0"]
    vcf = write_vcf(tmp_path / "two.vcf", records, samples=("A", "B"))
    report = call_vcf(vcf)
    assert list(report.samples) == ["A", "B"]
    assert report.samples["A"]["CYP2C19"].diplotypes == ["*1/*2"]
    assert list(call_vcf(vcf, sample="B").samples) == ["B"]


def test_split_multiallelic_records_are_merged(tmp_path: Path) -> None:
    # UGT1A1 rs3064744: CAT>C / CATAT (*28 = (TA)7), written as two split records.
    joined = write_vcf(tmp_path / "joined.vcf", ["chr2 233760233 CAT C,CATAT 1/2"])
    split = write_vcf(tmp_path / "split.vcf", ["chr2 233760233 CAT C 1/0", "chr2 233760233 CAT CATAT 0/1"])
    a = call_vcf(joined).samples["S1"]["UGT1A1"]
    b = call_vcf(split).samples["S1"]["UGT1A1"]
    assert a.diplotypes == b.diplotypes


def test_indel_spelled_with_longer_anchor_matches(tmp_path: Path) -> None:
    # UGT1A1 *28 ((TA)7): the definition writes CAT>CATAT; a caller may write the same event longer.
    canonical = write_vcf(tmp_path / "c.vcf", ["chr2 233760233 CAT CATAT 0/1"])
    longer = write_vcf(tmp_path / "l.vcf", ["chr2 233760233 CATATAT CATATATAT 0/1"])
    expected = call_vcf(canonical).samples["S1"]["UGT1A1"]
    result = call_vcf(longer).samples["S1"]["UGT1A1"]
    assert "*1/*28" in result.diplotypes
    assert result.diplotypes == expected.diplotypes


def test_gvcf_reference_block_expands(tmp_path: Path) -> None:
    header = '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
    vcf = tmp_path / "g.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n" + header + '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "chr10\t94700000\t.\tA\t<NON_REF>\t.\tPASS\tEND=94900000\tGT\t0/0\n",
        encoding="utf-8",
    )
    result = call_vcf(vcf).samples["S1"]["CYP2C19"]
    assert result.diplotypes == ["*38/*38"]
    assert result.missing_positions == []


def test_bgzip_with_index_reads_regions(tmp_path: Path) -> None:
    if shutil.which("bgzip") is None or shutil.which("tabix") is None:
        pytest.skip("bgzip/tabix not installed (apt-get install tabix)")
    plain = write_vcf(tmp_path / "i.vcf", STAR2_HET)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    gz = tmp_path / "i.vcf.gz"
    assert _cyp2c19(gz) == ["*1/*2"]
    subprocess.run(["tabix", "-p", "vcf", str(gz)], check=True)
    report = call_vcf(gz)
    assert report.used_index
    assert report.samples["S1"]["CYP2C19"].diplotypes == ["*1/*2"]


def test_indexed_and_unindexed_readers_agree_on_all_cases(shared_data: Path, tmp_path: Path) -> None:
    """The tabix path (cyvcf2 regions) and the unindexed byte scan give identical calls on every case VCF."""
    if shutil.which("bgzip") is None or shutil.which("tabix") is None:
        pytest.skip("bgzip/tabix not installed (apt-get install tabix)")
    compared = 0
    for vcf in sorted((shared_data / "pgx" / "cases" / "vcf").glob("*.vcf")):
        gz = tmp_path / f"{vcf.name}.gz"
        with gz.open("wb") as out:
            subprocess.run(["bgzip", "-c", str(vcf)], stdout=out, check=True)
        if subprocess.run(["tabix", "-p", "vcf", str(gz)], capture_output=True, check=False).returncode != 0:
            continue  # a few multi-gene case files are not position-sorted, so tabix refuses them
        compared += 1
        indexed = call_vcf(gz)
        assert indexed.used_index
        plain = call_vcf(vcf)
        assert not plain.used_index
        assert indexed.to_json()["samples"] == plain.to_json()["samples"], vcf.name
    assert compared >= 80


def _ps_vcf(path: Path, ps_star17: int) -> Path:
    header = '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">\n'
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">' + "\n" + header.rstrip(),
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
        f"chr10\t94761900\t.\tC\tT\t.\tPASS\t.\tGT:PS\t1|0:{ps_star17}",
        "chr10\t94762706\t.\tA\tG\t.\tPASS\t.\tGT:PS\t0|0:1",
        "chr10\t94775367\t.\tA\tG\t.\tPASS\t.\tGT:PS\t1|0:1",
        "chr10\t94781859\t.\tG\tA\t.\tPASS\t.\tGT:PS\t1|0:1",
        "chr10\t94842866\t.\tA\tG\t.\tPASS\t.\tGT:PS\t1|1:1",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_phase_sets_are_respected(tmp_path: Path) -> None:
    # *17 and *2 on the same strand of one phase set: no named allele has both -> not called.
    same = call_vcf(_ps_vcf(tmp_path / "same.vcf", 1))
    assert same.samples["S1"]["CYP2C19"].diplotypes == []
    assert same.display_diplotypes("S1", "CYP2C19") == ["(not called by matcher)"]
    # In different phase sets their relative phase is unknown: *2/*17 is possible.
    other = call_vcf(_ps_vcf(tmp_path / "other.vcf", 2))
    assert other.samples["S1"]["CYP2C19"].diplotypes == ["*2/*17"]


def test_ref_mismatch_is_discarded_not_reference(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "r.vcf", [*STAR2_HET, "chr10 94761900 G T 0/0"])  # GRCh38 has C here
    result = call_vcf(vcf).samples["S1"]["CYP2C19"]
    assert "rs12248560" in result.missing_positions
    assert any("differs from GRCh38 C: genotype discarded" in w for w in result.warnings)


def test_g6pd_hemizygous_male(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "male.vcf", ["chrX 154532990 C T 1"])
    result = call_vcf(vcf).samples["S1"]["G6PD"]
    assert result.diplotypes == ["Chatham"]
    assert result.phenotype == "Deficient"


def test_bcf_input(shared_data: Path, tmp_path: Path) -> None:
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not installed (apt-get install bcftools)")
    vcf = shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testCyp2c19_s1s2.vcf"
    bcf = tmp_path / "x.bcf"
    subprocess.run(["bcftools", "view", "-O", "b", "-o", str(bcf), str(vcf)], check=True, capture_output=True)
    assert call_vcf(bcf).to_json()["samples"] == call_vcf(vcf).to_json()["samples"]
    subprocess.run(["bcftools", "index", str(bcf)], check=True, capture_output=True)
    indexed = call_vcf(bcf)
    assert indexed.used_index
    assert indexed.samples["SAMPLE"]["CYP2C19"].diplotypes == ["*1/*2"]


def test_tabix_reader_on_a_multi_block_file(tmp_path: Path) -> None:
    """Regions spanning many BGZF blocks: the Python tabix reader equals a full scan."""
    if shutil.which("bgzip") is None or shutil.which("tabix") is None:
        pytest.skip("bgzip/tabix not installed (apt-get install tabix)")
    wanted = {94775367: "A G 0/1", 94781859: "G A 0/1", 94842866: "A G 1/1"}
    records = []
    for pos in range(94_000_000, 95_100_000, 20):
        if pos in wanted:
            continue
        records.append(f"chr10 {pos} C T 0/0")
    records += [f"chr10 {pos} {text}" for pos, text in wanted.items()]
    records.sort(key=lambda r: int(r.split()[1]))
    plain = write_vcf(tmp_path / "big.vcf", records)
    gz = tmp_path / "big.vcf.gz"
    with gz.open("wb") as out:
        subprocess.run(["bgzip", "-c", str(plain)], stdout=out, check=True)
    subprocess.run(["tabix", "-p", "vcf", str(gz)], check=True)
    indexed = call_vcf(gz)
    assert indexed.used_index
    assert indexed.to_json()["samples"] == call_vcf(plain).to_json()["samples"]
    assert indexed.samples["S1"]["CYP2C19"].diplotypes == ["*1/*2"]


def test_unindexed_scan_is_chunk_size_independent(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiny chunks (lines cut across chunk edges, header and records mixed) give the same calls."""
    import services.pgx._vcf_text as vcf_text

    files = sorted((shared_data / "pgx" / "cases" / "vcf").glob("*.vcf"))[:30]
    gvcf = tmp_path / "g.vcf"
    gvcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "chr10\t94700000\t.\tA\t<NON_REF>\t.\tPASS\tEND=94900000\tGT\t0/0\n"
        "chr10\t94775367\t.\tA\tG\t.\tPASS\t.\tGT\t0/1",  # no final newline
        encoding="utf-8",
    )
    files.append(gvcf)
    reference = {f.name: call_vcf(f).to_json()["samples"] for f in files}
    monkeypatch.setattr(vcf_text, "CHUNK", 97)
    for f in files:
        assert call_vcf(f).to_json()["samples"] == reference[f.name], f.name


def test_wrong_build_from_ref_bases(tmp_path: Path) -> None:
    """No build in the header, but REF disagrees with GRCh38 at most PGx positions: refused."""
    records = [
        "chr10 94761900 G T 0/0",  # GRCh38: C
        "chr10 94762706 C G 0/0",  # A
        "chr10 94775367 T G 0/1",  # A
        "chr10 94781859 A A 0/1",  # G
        "chr10 94842866 C G 1/1",  # A
        "chr10 94775106 C T 0/0",  # C (agrees)
    ]
    vcf = write_vcf(tmp_path / "nohdr.vcf", records)
    with pytest.raises(GenomeBuildError) as err:
        call_vcf(vcf)
    assert str(err.value) == (
        f"{vcf} (REF): REF differs from GRCh38 at 5 of 6 PGx positions: the file does not look like GRCh38 (GRCh37?)"
    )


def test_csi_indexed_vcf_uses_htslib_regions(shared_data: Path, tmp_path: Path) -> None:
    if shutil.which("bgzip") is None or shutil.which("bcftools") is None:
        pytest.skip("bgzip/bcftools not installed")
    vcf = shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testUgt1a1s28homMissing.vcf"
    gz = tmp_path / "c.vcf.gz"
    with gz.open("wb") as out:
        subprocess.run(["bgzip", "-c", str(vcf)], stdout=out, check=True)
    subprocess.run(["bcftools", "index", "-c", str(gz)], check=True, capture_output=True)
    report = call_vcf(gz)
    assert report.used_index
    assert report.to_json()["samples"] == call_vcf(vcf).to_json()["samples"]
