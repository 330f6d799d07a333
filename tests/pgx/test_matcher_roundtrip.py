"""Every named allele of every VCF-callable gene, written as a genotype, is called back.

Strands are built from the kb definitions (blank cell = reference base; an IUPAC cell takes a base it
allows). Phased heterozygous with the reference allele and phased pairs of neighbouring alleles must give
exactly that diplotype; unphased with the reference allele too, except where PharmCAT itself lists
variants (unphased DPYD with two heterozygous positions).
"""

from __future__ import annotations

from typing import Any

import pytest

from services.pgx import _kb
from services.pgx._caller import call_gene
from services.pgx._lowest import heterozygous_display
from services.pgx._matcher import IUPAC, order_pair
from services.pgx._vcf import SiteCall

GENES = _kb.callable_genes()


def _strand(definition: dict[str, Any], allele: dict[str, Any]) -> dict[int, str]:
    out = {}
    for i, variant in enumerate(definition["variants"]):
        cell = allele["alleles"][i]
        if cell is None:
            out[i] = variant["ref"]
        elif len(cell) == 1 and cell in IUPAC:
            out[i] = variant["ref"] if variant["ref"] in IUPAC[cell] else IUPAC[cell][0]
        else:
            out[i] = cell
    return out


def _alleles(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in definition["named_alleles"] if a["name"] not in definition["ignored_alleles"]]


def _call(gene: str, a: dict[int, str], b: dict[int, str], phased: bool) -> list[str]:
    calls = {i: SiteCall((a[i], b[i]), phased, None) for i in a}
    return call_gene(gene, calls)[0].diplotypes


def _expected(gene: str, definition: dict[str, Any], a: str, b: str) -> str:
    sub = definition["suballeles"]
    pair = order_pair(sub.get(a, a), sub.get(b, b))
    return heterozygous_display(pair) if gene in ("RYR1", "CACNA1S") else pair


@pytest.mark.parametrize("gene", GENES)
@pytest.mark.parametrize("phased", [True, False])
def test_each_allele_with_the_reference(gene: str, phased: bool) -> None:
    d = _kb.definition(gene)
    reference = next(a for a in d["named_alleles"] if a["reference"])
    wrong = []
    for allele in _alleles(d):
        got = _call(gene, _strand(d, reference), _strand(d, allele), phased)
        expected = _expected(gene, d, reference["name"], allele["name"])
        if got != [expected] and not (gene == "DPYD" and not phased and got == [allele["name"]]):
            wrong.append((allele["name"], got))
    assert wrong == []


@pytest.mark.parametrize("gene", [g for g in GENES if g not in ("DPYD", "RYR1")])
def test_phased_pairs_of_alleles(gene: str) -> None:
    d = _kb.definition(gene)
    alleles = _alleles(d)
    wrong = []
    for a, b in zip(alleles, alleles[1:] + alleles[:1], strict=True):
        got = _call(gene, _strand(d, a), _strand(d, b), True)
        expected = _expected(gene, d, a["name"], b["name"])
        if got != [expected]:
            wrong.append((expected, got))
    assert wrong == []
