"""Polygenic scores: matching rules, plink2's published figures, options and refused inputs."""

from __future__ import annotations

import csv
import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from services.risk.errors import (
    BuildMismatchError,
    CaseInputError,
    GenotypeFileError,
    NoMatchError,
    OverlapError,
    ScoreFileError,
)
from services.risk.prs import PrsOptions, ReferencePanel, add_percentiles, read_scoring_file, score_vcf

DATA = Path(__file__).resolve().parents[1] / "data" / "risk"
EDGE = PrsOptions(min_overlap=0.5)


@pytest.fixture(scope="module")
def prs(shared_data: Path) -> Path:
    return shared_data / "risk" / "prs"


def test_pgs001229_on_cineca_matches_the_pgsc_calc_reference(prs: Path) -> None:
    result = score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz")
    assert result.pgs_id == "PGS001229" and result.score_names == ["PGS001229"]
    assert (result.variants.total, result.variants.matched) == (835, 782)
    assert result.variants.excluded == {"ambiguous": 47}
    assert result.variants.unmatched == {"absent": 6}
    assert len(result.samples) == 2504
    first, second = result.samples[0], result.samples[1]
    assert first.sample == "HG00096_HG00096"
    assert first.scores["PGS001229"].sum == pytest.approx(0.54502, abs=1e-6)
    assert first.scores["PGS001229"].avg == pytest.approx(0.000348478, abs=1e-9)
    assert first.scores["PGS001229"].allele_ct == 1564
    assert second.scores["PGS001229"].sum == pytest.approx(0.674401, abs=1e-6)
    assert result.score_build == "GRCh37" and result.vcf_build is None
    assert result.notes == ["genome build not checked (scoring file: GRCh37; VCF: not stated in the VCF header)"]


def test_edge_cases_match_pgscatalog_match_decisions(prs: Path) -> None:
    result = score_vcf(prs / "synthetic" / "edgecases_scorefile.txt", prs / "synthetic" / "edgecases.vcf",
                       options=EDGE, detail=True)  # fmt: skip
    with (prs / "synthetic" / "expected_match.tsv").open() as fh:
        expected = list(csv.DictReader(fh, delimiter="\t"))
    assert len(result.detail) == len(expected)
    for got, row in zip(result.detail, expected, strict=True):
        assert (got.chrom, str(got.pos)) == (row["chr"], row["pos"])
        assert got.status == row["pgscatalog-match(default)"].split(" ")[0]
        if got.status == "matched":
            assert got.scored_allele == row["used_effect_allele"]
    assert [d.reason for d in result.detail] == [
        "effect allele = ALT",
        "effect allele = REF",
        "strand flip; effect allele = REF",
        "ambiguous",
        "multiallelic",
        "absent",
        "effect allele = ALT",
    ]
    assert result.vcf_build == "GRCh37" and result.vcf_build_source == "length of contig 1"


def _expected_plink2(prs: Path) -> list[dict[str, str]]:
    with (prs / "synthetic" / "expected_plink2_v2.00a3.5.tsv").open() as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.parametrize(
    ("mode", "mean_impute", "autosomes_only"),
    [
        ("no-mean-imputation", False, False),
        ("mean-imputation(--read-freq)", True, False),
        ("no-mean-imputation,--chr 1", False, True),
    ],
)
def test_edge_cases_equal_the_recorded_plink2_output(
    prs: Path, tmp_path: Path, mode: str, mean_impute: bool, autosomes_only: bool
) -> None:
    scorefile = prs / "synthetic" / "edgecases_scorefile.txt"
    if autosomes_only:
        lines = [line for line in scorefile.read_text().splitlines() if not line.startswith("X\t")]
        scorefile = tmp_path / "chr1.txt"
        scorefile.write_text("\n".join(lines) + "\n")
    result = score_vcf(scorefile, prs / "synthetic" / "edgecases.vcf",
                       options=PrsOptions(min_overlap=0.5, mean_impute=mean_impute))  # fmt: skip
    rows = [r for r in _expected_plink2(prs) if r["mode"] == mode]
    assert len(rows) == 4
    for sample, row in zip(result.samples, rows, strict=True):
        value = sample.scores["SYNTH01"]
        assert sample.sample == row["sample"]
        assert value.allele_ct == int(row["ALLELE_CT"]) and value.denom == int(row["DENOM"])
        assert value.sum == pytest.approx(float(row["SUM"]), abs=1e-6)
        assert value.avg == pytest.approx(float(row["AVG"]), abs=1e-6)
    if autosomes_only:
        assert result.notes == []
    else:
        assert result.notes == [
            "chrX: a haploid call (a male's non-PAR chrX) counts as two copies of the allele (dosage 0 or 2) and "
            "adds 2 to ALLELE_CT, as plink2 --score does"
        ]


def test_keeping_ambiguous_and_multiallelic_variants(prs: Path) -> None:
    opts = PrsOptions(keep_ambiguous=True, keep_multiallelic=True)
    result = score_vcf(prs / "synthetic" / "edgecases_scorefile.txt", prs / "synthetic" / "edgecases.vcf",
                       options=opts)  # fmt: skip
    assert result.variants.matched == 6 and result.variants.excluded == {}
    sums = {s.sample: s.scores["SYNTH01"].sum for s in result.samples}
    assert sums == pytest.approx({"S1": 1.7, "S2": 3.4, "S3": 3.2, "S4": 0.7}, abs=1e-12)
    assert result.samples[0].scores["SYNTH01"].allele_ct == 12


def test_ds_dosages_are_used_when_present(prs: Path) -> None:
    scorefile = prs / "synthetic" / "edgecases_scorefile.txt"
    result = score_vcf(scorefile, DATA / "dosages_ds.vcf", options=PrsOptions(min_overlap=0.4))
    got = {s.sample: (s.scores["SYNTH01"].sum, s.scores["SYNTH01"].allele_ct) for s in result.samples}
    assert got == {"D1": (pytest.approx(-0.05), 6), "D2": (pytest.approx(1.0375), 6), "D3": (pytest.approx(0.0625), 4)}
    assert "dosages from FORMAT/DS" in result.notes
    hard = score_vcf(scorefile, DATA / "dosages_ds.vcf", options=PrsOptions(min_overlap=0.4, use_dosage=False))
    assert [s.scores["SYNTH01"].sum for s in hard.samples] == pytest.approx([0.1, 1.1, 0.0])


def test_dominant_and_recessive_variants(prs: Path, tmp_path: Path) -> None:
    sf = read_scoring_file(prs / "scorefile_dominant_and_recessive.txt")
    assert sf.pgs_id == "scorefile_dominant_and_recessive.txt"
    assert sf.effect_type[:3].tolist() == [1, 2, 0]
    result = score_vcf(sf, prs / "cineca_synthetic_subset.vcf.gz", samples=["HG00096_HG00096", "HG00099_HG00099"])
    # HG00096: 17080378 G/A effect G is REF, 0/0 -> dosage 2, dominant -> 1 (not 2).
    additive = score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz",
                         samples=["HG00096_HG00096", "HG00099_HG00099"])  # fmt: skip
    assert [s.sample for s in result.samples] == ["HG00096_HG00096", "HG00099_HG00099"]
    assert result.variants.matched == additive.variants.matched
    diff = result.samples[0].scores[sf.score_names[0]].sum - additive.samples[0].scores["PGS001229"].sum
    # dominant G: 2 -> 1 (-0.01045457); recessive A at 17300230 (A/G, 1/1 = GG): A dosage 0 -> 0 (no change)
    assert diff == pytest.approx(-0.01045457, abs=1e-7)


def test_sample_selection_and_unknown_sample(prs: Path) -> None:
    one = score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz", samples=["HG00097_HG00097"])
    assert [s.sample for s in one.samples] == ["HG00097_HG00097"]
    assert one.samples[0].scores["PGS001229"].sum == pytest.approx(0.674401, abs=1e-6)
    imputed = score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz",
                        samples=["HG00097_HG00097"], options=PrsOptions(mean_impute=True))  # fmt: skip
    assert imputed.samples[0].scores["PGS001229"].denom == 1564
    with pytest.raises(GenotypeFileError) as err:
        score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz", samples=["NOPE"])
    assert (
        str(err.value) == f"{prs / 'cineca_synthetic_subset.vcf.gz'}: sample 'NOPE' is not in the file (2504 samples)"
    )


def test_no_matching_variants_is_refused_with_counts(prs: Path) -> None:
    with pytest.raises(NoMatchError) as err:
        score_vcf(prs / "customgrch37.txt", prs / "cineca_synthetic_subset.vcf.gz")
    assert str(err.value) == (
        f"{prs / 'customgrch37.txt'}: no scoring-file variant matched the genotypes "
        "(0 of 2; excluded: none; unmatched: absent 2)"
    )


def test_low_overlap_is_refused_with_counts(prs: Path) -> None:
    with pytest.raises(OverlapError) as err:
        score_vcf(prs / "synthetic" / "edgecases_scorefile.txt", prs / "synthetic" / "edgecases.vcf")
    assert (err.value.matched, err.value.total) == (4, 7)
    assert str(err.value) == (
        f"{prs / 'synthetic' / 'edgecases_scorefile.txt'}: only 4 of 7 scoring-file variants (57.1%) matched the "
        "genotypes; the minimum is 75% (excluded: ambiguous 1, multiallelic 1; unmatched: absent 1)"
    )


def test_corrupt_gzip_is_refused(prs: Path, tmp_path: Path) -> None:
    packed = gzip.compress((prs / "PGS001229_22.txt").read_bytes())
    bad = tmp_path / "PGS001229_22.txt.gz"
    bad.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(bad)
    assert str(err.value) == (
        f"{bad}: corrupt gzip (Compressed file ended before the end-of-stream marker was reached)"
    )
    good = tmp_path / "ok.txt.gz"
    good.write_bytes(packed)
    assert read_scoring_file(good).n_variants == 835


def test_vcf_on_another_build_is_refused(prs: Path, tmp_path: Path) -> None:
    text = (prs / "synthetic" / "edgecases.vcf").read_text()
    grch38 = tmp_path / "grch38.vcf"
    grch38.write_text(text.replace("length=249250621", "length=248956422").replace("length=155270560",
                                                                                    "length=156040895"))  # fmt: skip
    with pytest.raises(BuildMismatchError) as err:
        score_vcf(prs / "synthetic" / "edgecases_scorefile.txt", grch38, options=EDGE)
    assert str(err.value) == (
        f"{grch38}: the VCF is GRCh38 (length of contig 1) but the scoring file is GRCh37; use a scoring file "
        "harmonised to GRCh38 (PGS Catalog hm_* files) or lift the genotypes over"
    )
    with pytest.raises(BuildMismatchError):
        score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz",
                  options=PrsOptions(vcf_build="hg38"))  # fmt: skip
    with pytest.raises(CaseInputError) as bad:
        score_vcf(prs / "PGS001229_22.txt", prs / "cineca_synthetic_subset.vcf.gz",
                  options=PrsOptions(vcf_build="hg42"))  # fmt: skip
    assert str(bad.value) == "vcf_build: must be GRCh37 or GRCh38 (got 'hg42')"


def test_scoring_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("#genome_build=GRCh37\nchr_name\tchr_position\teffect_allele\teffect_weight\n1\t100\tA\tx\n")
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(bad)
    assert str(err.value) == f"{bad}: line 3: effect_weight 'x' is not a number"
    bad.write_text("rsID\teffect_allele\teffect_weight\nrs1\tA\t0.1\n")
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(bad)
    assert str(err.value) == (
        f"{bad}: needs chr_name and chr_position (or hm_chr and hm_pos); rsID-only scoring files are not supported"
    )
    with pytest.raises(ScoreFileError) as err:
        read_scoring_file(tmp_path / "absent.txt")
    assert str(err.value) == f"{tmp_path / 'absent.txt'}: file not found"


def test_harmonised_columns_and_several_weights(tmp_path: Path) -> None:
    path = tmp_path / "hm.txt"
    path.write_text(
        "#pgs_id=PGSX\n#genome_build=NR\n#HmPOS_build=GRCh37\n"
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight_a\teffect_weight_b\thm_chr\thm_pos\n"
        "9\t1\tG\tA\t0.5\t1\t1\t1000\n"
        "9\t2\tC\tT\t-0.3\t2\t1\t2000\n"
        "9\t3\tT\tG\t0.2\t3\t\t\n"
    )
    sf = read_scoring_file(path)
    assert (sf.harmonised, sf.build, sf.score_names, sf.unpositioned) == (True, "GRCh37", ["a", "b"], 1)
    result = score_vcf(sf, DATA / "dosages_ds.vcf", options=PrsOptions(min_overlap=0.5, use_dosage=False))
    assert result.variants.unmatched == {"no harmonised position": 1}
    d2 = result.samples[1].scores
    assert (d2["a"].sum, d2["b"].sum) == (pytest.approx(0.7), pytest.approx(4.0))


def test_percentiles_need_a_panel_scored_the_same_way(prs: Path) -> None:
    vcf = prs / "cineca_synthetic_subset.vcf.gz"
    panel = ReferencePanel.from_result(score_vcf(prs / "PGS001229_22.txt", vcf))
    one = add_percentiles(score_vcf(prs / "PGS001229_22.txt", vcf, samples=["HG00096_HG00096"]), panel)
    assert one.samples[0].percentile is not None
    # 843 panel samples score lower and one (HG00096 itself) the same: mid-rank.
    assert one.samples[0].percentile["PGS001229"] == pytest.approx(100 * (843 + 0.5) / 2504)
    assert one.notes[-1] == (
        "a percentile is only valid against a reference panel of the same genetic ancestry as the sample, "
        "scored with the same variants and options"
    )
    other = score_vcf(prs / "PGS001229_22.txt", vcf, samples=["HG00096_HG00096"],
                      options=PrsOptions(keep_ambiguous=True))  # fmt: skip
    with pytest.raises(CaseInputError, match="scored with other variants or options"):
        add_percentiles(other, panel)


@pytest.mark.parametrize("mean_impute", [False, True])
def test_numpy_fast_path_equals_the_cyvcf2_path(prs: Path, mean_impute: bool) -> None:
    vcf = prs / "cineca_synthetic_subset.vcf.gz"
    opts = PrsOptions(mean_impute=mean_impute)
    fast = score_vcf(prs / "PGS001229_22.txt", vcf, options=opts, detail=True)
    slow = score_vcf(prs / "PGS001229_22.txt", vcf, options=opts, detail=True, fast=False)
    assert fast.variants == slow.variants and fast.detail == slow.detail
    for a, b in zip(fast.samples, slow.samples, strict=True):
        assert a.scores["PGS001229"].allele_ct == b.scores["PGS001229"].allele_ct
        assert a.scores["PGS001229"].sum == pytest.approx(b.scores["PGS001229"].sum, abs=1e-12)


def test_fast_path_falls_back_to_cyvcf2_for_haploid_and_multiallelic_lines(prs: Path) -> None:
    from services.risk.prs._fastgt import NotPlainGT, decode_block, plain_gt_sites

    keys = {("X", 2800000)}
    with pytest.raises(NotPlainGT):
        list(plain_gt_sites(prs / "synthetic" / "edgecases.vcf", 4, keys))
    sites = list(plain_gt_sites(prs / "synthetic" / "edgecases.vcf", 4, {("1", 5000)}))
    assert [(c, p, r, a) for c, p, r, a, _ in sites] == [("1", 5000, "G", ["A", "C"])]
    assert decode_block([sites[0][4]], [2], 4).tolist() == [[1.0, 0.0, 2.0, 0.0]]


def test_truncated_vcf_is_a_one_line_error(prs: Path, tmp_path: Path) -> None:
    raw = (prs / "cineca_synthetic_subset.vcf.gz").read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GenotypeFileError) as err:
        score_vcf(prs / "PGS001229_22.txt", cut)
    assert str(err.value) == f"{cut}: cannot be read past a record (EOFError)"


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed (.ci/run installs it)")
def test_bcf_input_scores_like_the_vcf(prs: Path, tmp_path: Path) -> None:
    bcf = tmp_path / "edgecases.bcf"
    subprocess.run(["bcftools", "view", "-Ob", "-o", str(bcf), str(prs / "synthetic" / "edgecases.vcf")], check=True)
    scorefile = prs / "synthetic" / "edgecases_scorefile.txt"
    from_bcf = score_vcf(scorefile, bcf, options=EDGE)
    from_vcf = score_vcf(scorefile, prs / "synthetic" / "edgecases.vcf", options=EDGE)
    assert [s.scores for s in from_bcf.samples] == [s.scores for s in from_vcf.samples]
    assert from_bcf.vcf_build == "GRCh37"


def test_effect_allele_only_files_match_on_the_effect_allele(tmp_path: Path) -> None:
    path = tmp_path / "effect_only.txt"
    path.write_text(
        "#pgs_id=EO\n#HmPOS_build=GRCh37\n"
        "chr_name\tchr_position\teffect_allele\teffect_weight\thm_chr\thm_pos\thm_inferOtherAllele\n"
        "1\t1000\tG\t0.5\t1\t1000\tA/C\n"
        "1\t2000\tC\t-0.3\t1\t2000\tT\n"
        "1\t3000\tT\t0.2\t1\t3000\t\n"
    )
    result = score_vcf(path, DATA / "dosages_ds.vcf", options=PrsOptions(use_dosage=False), detail=True)
    assert [d.reason for d in result.detail] == [
        "effect allele = ALT",
        "effect allele = REF",
        "strand flip; effect allele = REF",
    ]
    assert [s.scores["EO"].sum for s in result.samples] == pytest.approx([0.1, 1.1, 0.0])
