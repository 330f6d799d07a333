"""Every row of shared/data/pgx/cases/expected.tsv: the exact diplotype set.

How rows are compared (each choice mirrors what the PharmCAT test asserted):
- ``pipeline`` rows compare ``CallReport.display_diplotypes`` (the CLI/JSON form: CFTR's reference shown
  as ``Reference``, ``(not called by matcher)`` when the matcher gives nothing, RYR1/CACNA1S
  ``X (heterozygous)``).
- ``matcher`` rows compare the matcher's own names (``GeneResult.diplotypes``; ``(no call)`` when empty);
  ``allCandidates`` rows ask for every matching diplotype (``all_matches=True``), as the Java test did.
- ``PipelineTest#testCyp2b6star1star34AllMatch`` ran PharmCAT with "all matches" too.
- Two pipeline tests used an outside-call file the case set does not include; the file is rebuilt in
  tests/data/pgx/outside from the test's description (CYP2C19 *2/*2 for testOutsideCallCollision;
  HLA-B and NAT2 with no call for testNoCallOutsideCall).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from services.pgx import CallReport, call_vcf

OUTSIDE = Path(__file__).resolve().parents[1] / "data" / "pgx" / "outside"
ALL_MATCHES_PIPELINE = {"PipelineTest__testCyp2b6star1star34AllMatch.vcf"}


def _rows(shared: Path) -> list[dict[str, str]]:
    with (shared / "pgx" / "cases" / "expected.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _observed(report: CallReport, gene: str, test_kind: str) -> set[str]:
    sample = next(iter(report.samples))
    if test_kind == "matcher":
        return set(report.samples[sample][gene].diplotypes) or {"(no call)"}
    return set(report.display_diplotypes(sample, gene))


def test_all_expected_rows(shared_data: Path) -> None:
    rows = _rows(shared_data)
    assert len(rows) == 97
    failures = []
    for row in rows:
        vcf = shared_data / "pgx" / "cases" / "vcf" / row["vcf"]
        outside = OUTSIDE / row["vcf"].replace(".vcf", ".tsv")
        all_matches = row["assertion"] == "allCandidates" or row["vcf"] in ALL_MATCHES_PIPELINE
        report = call_vcf(vcf, outside_calls=outside if outside.is_file() else None, all_matches=all_matches)
        expected = set(row["expected_diplotypes"].split(" | "))
        observed = _observed(report, row["gene"], row["test_kind"])
        if observed != expected:
            failures.append(f"{row['vcf']} {row['gene']}: expected {sorted(expected)}, got {sorted(observed)}")
    assert failures == []


@pytest.mark.parametrize(
    ("vcf", "gene", "phenotype", "score"),
    [
        ("PipelineTest__testCyp2c19_s1s2.vcf", "CYP2C19", "Intermediate Metabolizer", None),
        ("PipelineTest__testWarfarinDpwg.vcf", "CYP2C9", "Poor Metabolizer", "0.0"),
        ("ToxicGenesTest__testTpmtStar1s.vcf", "TPMT", "Intermediate Metabolizer", None),
        ("DpydTest__hapB3AndIntronicC.vcf", "DPYD", "Intermediate Metabolizer", "1.0"),
        ("PipelineTest__testSlco1b1UncalledOverride.vcf", "SLCO1B1", "Decreased Function", None),
    ],
)
def test_phenotypes(shared_data: Path, vcf: str, gene: str, phenotype: str, score: str | None) -> None:
    report = call_vcf(shared_data / "pgx" / "cases" / "vcf" / vcf)
    result = next(iter(report.samples.values()))[gene]
    assert (result.phenotype, result.activity_score) == (phenotype, score)


def test_ambiguous_calls_agreeing_on_phenotype_keep_it(shared_data: Path) -> None:
    report = call_vcf(shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testCyp2c19s1s4missingS1.vcf")
    result = next(iter(report.samples.values()))["CYP2C19"]
    assert result.diplotypes == ["*1/*4", "*4/*38"]
    assert (result.phenotype, result.lookup_key) == ("Intermediate Metabolizer", "Intermediate Metabolizer")
    assert result.missing_positions == ["rs3758581"]


def test_ambiguous_calls_with_different_phenotypes_are_indeterminate(shared_data: Path) -> None:
    report = call_vcf(shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testUgt1a1s6s60s80s28MissingUnphased.vcf")
    result = next(iter(report.samples.values()))["UGT1A1"]
    assert set(result.diplotypes) == {"*6/*80", "*6/*80+*28", "*6/*80+*37"}
    assert (result.phenotype, result.lookup_key) == ("Indeterminate", None)


def test_unphased_dpyd_lists_variants_and_uses_two_lowest(shared_data: Path) -> None:
    report = call_vcf(shared_data / "pgx" / "cases" / "vcf" / "DpydTest__testDpydUnphased.vcf")
    result = next(iter(report.samples.values()))["DPYD"]
    assert set(result.diplotypes) == {"c.1627A>G (*5)", "c.1905+1G>A (*2A)"}
    # *2A (0.0) and *5 (1.0): activity score 1.0
    assert (result.activity_score, result.phenotype) == ("1.0", "Intermediate Metabolizer")


def test_derived_phenotypes_and_activity_scores(shared_data: Path) -> None:
    """The table's phenotype/activity-score columns (looked up by the data's authors, not asserted by PharmCAT)."""
    checked = 0
    for row in _rows(shared_data):
        if not row["phenotype_lookup_derived"] and not row["activity_score_lookup_derived"]:
            continue
        outside = OUTSIDE / row["vcf"].replace(".vcf", ".tsv")
        report = call_vcf(
            shared_data / "pgx" / "cases" / "vcf" / row["vcf"],
            outside_calls=outside if outside.is_file() else None,
            all_matches=row["assertion"] == "allCandidates",
        )
        result = next(iter(report.samples.values()))[row["gene"]]
        expected = (row["phenotype_lookup_derived"], row["activity_score_lookup_derived"])
        assert (result.phenotype or "", result.activity_score or "") == expected, row["vcf"]
        checked += 1
    assert checked == 65


def test_hapb3_from_exonic_snp_warns(shared_data: Path) -> None:
    vcf = shared_data / "pgx" / "cases" / "vcf" / "DpydTest__hapB3AndIntronicC_missingAlternateStrands1.vcf"
    result = next(iter(call_vcf(vcf).samples.values()))["DPYD"]
    assert "HapB3 called from exonic rs56038477: intronic rs75017182 is missing" in result.warnings


@pytest.mark.parametrize(
    ("vcf", "gene", "message"),
    [
        (
            "ToxicGenesTest__testTpmtStar1s.vcf",
            "TPMT",
            "The assigned genotype is *1/*3A; however, *3B/*3C cannot be ruled out without phased data.",
        ),
        (
            "PipelineTest__testCyp2c19_s1s2rs58973490het.vcf",
            "CYP2C19",
            "The assigned genotype is *1/*2; however, *2/*11 cannot be ruled out without phased data.",
        ),
    ],
)
def test_pharmcat_ambiguity_messages(shared_data: Path, vcf: str, gene: str, message: str) -> None:
    result = next(iter(call_vcf(shared_data / "pgx" / "cases" / "vcf" / vcf).samples.values()))[gene]
    assert message in result.warnings


def test_no_ambiguity_message_without_its_variant(shared_data: Path) -> None:
    vcf = shared_data / "pgx" / "cases" / "vcf" / "PipelineTest__testCyp2c19_s1s2.vcf"
    assert next(iter(call_vcf(vcf).samples.values()))["CYP2C19"].warnings == []


def test_cacna1s_heterozygous_display_keeps_the_phenotype(shared_data: Path) -> None:
    vcf = shared_data / "pgx" / "cases" / "vcf" / "Cacna1sTest__cacna1sHet_ryr1Ref.vcf"
    result = next(iter(call_vcf(vcf).samples.values()))["CACNA1S"]
    assert (result.diplotypes, result.phenotype) == (
        ["c.520C>T (heterozygous)"],
        "Malignant Hyperthermia Susceptibility",
    )


def test_ryr1_alleles_unknown_to_the_phenotype_table_are_not_guessed(shared_data: Path) -> None:
    # The RYR1 phenotype table (2023-12) predates most of the 2025 definitions' alleles.
    vcf = shared_data / "pgx" / "cases" / "vcf" / "Ryr1Test__cacna1sMissing_ryr1Het4Phased.vcf"
    result = next(iter(call_vcf(vcf).samples.values()))["RYR1"]
    assert (result.phenotype, result.lookup_key) == (None, None)
    assert result.warnings == [
        "RYR1: no function known for c.97A>G, c.152C>A, c.418G>A, c.14918C>T; phenotype not interpreted"
    ]
