"""Build the pgx knowledge base (services/pgx/kb/) from ../shared/data/pgx and ../shared/data/rxnorm.

Usage: ``python scripts/build_kb.py [--shared DIR] [--out DIR]``

The output is deterministic (sorted keys, no build timestamps): the kb records the source commits,
data versions and the source snapshot date, so rebuilding from the same inputs gives identical bytes.
A test rebuilds into a temporary directory and compares with the committed kb.

Files written:
- ``meta.json``            sources, commits, versions, dates, schema version
- ``alleles/<GENE>.json``  allele definitions of the VCF-callable genes (positions + named alleles)
- ``phenotypes/<GENE>.json`` allele function / activity value and diplotype -> phenotype tables
- ``guidelines.json``      CPIC and DPWG recommendations as structured facts (see ``_rules.py``)
- ``drugs.json``           ingredient name -> RxNorm ingredient RxCUI, guideline ids, genes
- ``rxnorm_products.json`` sandbox prescribable RxCUI -> ingredient names; brand name -> ingredient
- ``messages.json``        PharmCAT's ambiguity messages ("*3B/*3C cannot be ruled out without phased data")
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from _kb_rules import INGREDIENT_RXCUI, classify, find_alternatives  # noqa: E402

SCHEMA_VERSION = 1
CALLABLE_GENES = (
    *("ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP3A4", "CYP3A5", "CYP4F2", "DPYD"),
    *("G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"),
)
SOURCES = {
    "pharmcat-definitions": {
        "repo": "PharmGKB/PharmCAT",
        "commit": "5431bf1187e50383df7e7db18ef67b36fc8b562e",
        "date": "2025-11-19",
        "path": "src/main/resources/org/pharmgkb/pharmcat/definition/alleles/",
        "licence": "MPL-2.0 (content derived from CPIC CC0 / PharmVar / ClinPGx)",
    },
    "pharmcat-phenotypes": {
        "repo": "PharmGKB/PharmCAT",
        "commit": "5431bf1187e50383df7e7db18ef67b36fc8b562e",
        "date": "2025-11-19",
        "path": "src/main/resources/org/pharmgkb/pharmcat/phenotype/",
        "exceptions": {
            "CYP2D6": "30f8cfb7b3d71f6b579212f8161689e5f7dc2e63 (2024-05-29)",
            "G6PD": "76bfe08c85fc1b63d014445e3d7dd883cf7088cf (2023-08-08)",
            "RYR1": "5cb671756393b82732c2ffeb5e06201d453cade3 (2023-12-19)",
        },
    },
    "pharmcat-guidelines": {
        "repo": "PharmGKB/PharmCAT",
        "commit": "30f8cfb7b3d71f6b579212f8161689e5f7dc2e63",
        "date": "2024-05-29",
        "path": "src/main/resources/org/pharmgkb/pharmcat/reporter/guidelines/",
        "data_version": "2024-03-25-16-13",
        "licence": "CPIC text CC0; DPWG text curated by PharmGKB",
    },
    "rxnorm-sandbox": {
        "repo": "cds-hooks/sandbox",
        "commit": "3b7e255467",
        "path": "src/assets/medication-list.js",
        "licence": "Apache-2.0; RxNorm content from the U.S. National Library of Medicine",
    },
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), indent=None)
    path.write_text(text + "\n", encoding="utf-8")


def _variant(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "pos": v["position"],
        "rsid": v.get("rsid"),
        "hgvs": v.get("chromosomeHgvsName"),
        "ref": v["ref"],
        "alts": v["alts"],
        "cpic_to_vcf": v.get("cpicToVcfAlleleMap", {}),
    }


def build_alleles(pgx: Path, out: Path) -> dict[str, str]:
    """Allele definitions; returns gene -> definition data version."""
    exemptions = _load(pgx / "pharmcat-definitions" / "exemptions.json")
    versions: dict[str, str] = {}
    for gene in CALLABLE_GENES:
        d = _load(pgx / "pharmcat-definitions" / f"{gene}_translation.json")
        ex = exemptions.get(gene, {})
        ignored_positions = [[p["position"], p["ref"]] for p in ex.get("ignoredPositions", [])]
        alleles = [
            {
                "name": a["name"],
                "alleles": a["alleles"],
                "reference": bool(a["reference"]),
                "structural": bool(a.get("structuralVariant")),
            }
            for a in d["namedAlleles"]
        ]
        _write(
            out / "alleles" / f"{gene}.json",
            {
                "gene": gene,
                "chromosome": d["chromosome"],
                "genome_build": d["genomeBuild"],
                "version": d["version"],
                "variants": [_variant(v) for v in d["variants"]],
                "named_alleles": alleles,
                "ignored_alleles": ex.get("ignoredAlleles", []),
                "ignored_positions": ignored_positions,
                "extra_positions": [_variant(v) for v in ex.get("extraPositions", [])],
                "unphased_priorities": ex.get("unphasedDiplotypePriorities", []),
                "suballeles": d.get("suballelesMap") or {},
            },
        )
        versions[gene] = d["version"]
    return versions


def build_phenotypes(pgx: Path, out: Path) -> dict[str, str]:
    versions: dict[str, str] = {}
    for path in sorted((pgx / "pharmcat-phenotypes").glob("*.json")):
        d = _load(path)
        gene = d["gene"]
        activity = d.get("activityValues") or {}
        alleles = {
            name: {"function": function, "activity": activity.get(name)} for name, function in d["haplotypes"].items()
        }
        diplotypes = {
            row["diplotype"]: [
                row.get("phenotype") or row.get("generesult"),
                row.get("activityScore"),
                row["lookupkey"],
            ]
            for row in d["diplotypes"]
        }
        _write(
            out / "phenotypes" / f"{gene.replace('-', '_')}.json",
            {"gene": gene, "version": d.get("version"), "alleles": alleles, "diplotypes": diplotypes},
        )
        versions[gene] = str(d.get("version"))
    # HLA-A / HLA-B have no phenotype files: CPIC keys them by allele status ("*57:01 positive"). The
    # alleles CPIC uses come from PharmCAT's docs/phenotypes.tsv; the statuses are the lookup keys.
    for line in (pgx / "pharmcat-misc" / "phenotypes.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if fields[0] not in ("HLA-A", "HLA-B"):
            continue
        hla = sorted(a for a in fields[1].split(";") if a)
        _write(
            out / "phenotypes" / f"{fields[0].replace('-', '_')}.json",
            {
                "gene": fields[0],
                "version": "pharmcat-misc/phenotypes.tsv",
                "alleles": {a: {"function": None, "activity": None} for a in hla},
                "diplotypes": {},
                "statuses": [f"{a} {s}" for a in hla for s in ("positive", "negative")],
            },
        )
        versions[fields[0]] = "phenotypes.tsv"
    return versions


def build_messages(pgx: Path, out: Path) -> int:
    """PharmCAT's gene-level ambiguity messages (reporter/messages.json), kept as matching rules."""
    rules = []
    for m in _load(pgx / "pharmcat-misc" / "messages.json"):
        match = m["matches"]
        if m.get("exception_type") != "ambiguity" or not match.get("gene"):
            continue
        rules.append(
            {
                "name": m["rule_name"],
                "gene": match["gene"],
                "diplotypes": match.get("dips", []),
                "haplotypes_called": match.get("hapsCalled", []),
                "variants_missing": match.get("variantsMissing", []),
                "variants": match.get("variant", []),
                "drugs": match.get("drugs", []),
                "message": " ".join(m["message"].split()),
            }
        )
    _write(out / "messages.json", sorted(rules, key=lambda r: (r["gene"], r["name"])))
    return len(rules)


def _plain(text_html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text_html)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def _cpic_publication(source: str, citations: list[dict[str, Any]]) -> str | None:
    """PMID of the current CPIC guideline paper: the newest citation of a CPIC annotation.

    PharmGKB keeps one annotation per drug (simvastatin PA166105005, rosuvastatin PA166262321), so the
    annotation id does not say which drugs one CPIC guideline covers; the paper does (all seven statins
    cite PMID:35152405, Cooper-DeHoff et al. 2022). Older papers of a guideline are its earlier versions.
    """
    if source != "CPIC":
        return None
    dated = [c for c in citations if c.get("pmid") and c.get("year")]
    if not dated:
        return None
    newest = max(dated, key=lambda c: int(c["year"]))  # first of equal years, as the source lists them
    return f"PMID:{newest['pmid']}"


def build_guidelines(pgx: Path, out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    guidelines: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for path in sorted((pgx / "pharmcat-guidelines-2024-05").glob("*.json")):
        d = _load(path)
        g = d["guideline"]
        drugs = sorted(c["name"].lower() for c in g["relatedChemicals"])
        genes = sorted(x["symbol"] for x in g["relatedGenes"])
        recs = []
        for r in d["recommendations"]:
            full = _plain(r["text"]["html"])
            main, _, other = full.partition("Other Considerations")
            main = main.strip()
            if main.startswith("xN is not a valid input"):
                continue  # CYP2D6 "xN" placeholder rows: a data-entry instruction, not a recommendation
            strength = (r.get("classification") or {}).get("term")
            rec_drugs = sorted(c["name"].lower() for c in r.get("relatedChemicals") or []) or drugs
            facts = classify(main, strength)
            counts[facts["action"]] = counts.get(facts["action"], 0) + 1
            recs.append(
                {
                    "id": r["id"],
                    # kept as given: a string (phenotype, score, allele status) or an allele-count map
                    "lookup": dict(r["lookupKey"]),
                    "population": r.get("population"),
                    "strength": None if strength in (None, "N/A") else strength,
                    "drugs": rec_drugs,
                    "text": main,
                    "other_considerations": other.strip() or None,
                    "implications": list(r.get("implications") or []),
                    "alternatives": [
                        {"name": n, "rxnorm": INGREDIENT_RXCUI.get(n)} for n in find_alternatives(main, rec_drugs)
                    ],
                    **facts,
                }
            )
        guidelines.append(
            {
                "id": g["id"],
                "source": g["source"],
                "name": g["name"],
                "url": g["url"],
                "version": g.get("version"),
                "drugs": drugs,
                "genes": genes,
                "citations": sorted(
                    {f"PMID:{c['pmid']}" for c in d.get("citations", []) if c.get("pmid")}
                    | {f"DOI:{c['doi']}" for c in d.get("citations", []) if c.get("doi") and not c.get("pmid")}
                ),
                "cpic_publication": _cpic_publication(g["source"], d.get("citations", [])),
                "recommendations": sorted(recs, key=lambda x: str(x["id"])),
            }
        )
    _write(out / "guidelines.json", guidelines)
    return guidelines, counts


def build_drugs(guidelines: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    drugs: dict[str, dict[str, Any]] = {}
    for g in guidelines:
        for name in g["drugs"]:
            entry = drugs.setdefault(name, {"rxnorm": INGREDIENT_RXCUI.get(name), "guidelines": [], "genes": []})
            entry["guidelines"].append(g["id"])
            entry["genes"] = sorted(set(entry["genes"]) | set(g["genes"]))
    _write(out / "drugs.json", drugs)
    return drugs


_STRENGTH = re.compile(r"\s\d")


def build_products(rxnorm: Path, known: set[str], out: Path) -> int:
    """Map each sandbox prescribable RxCUI to the kb ingredients named in its text, and brand -> ingredient."""
    names = sorted(known | set(INGREDIENT_RXCUI), key=len, reverse=True)
    pattern = re.compile(r"(?<![a-z-])(" + "|".join(re.escape(n) for n in names) + r")(?![a-z])")
    products: dict[str, list[str]] = {}
    brands: dict[str, list[str]] = {}
    for line in (rxnorm / "sandbox-medications.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        rxcui, name = parts[0], parts[1]
        lower = name.lower()
        found = sorted({m.group(1) for m in pattern.finditer(lower.split("[")[0])})
        if not found:
            continue
        products[rxcui] = found
        brand = re.search(r"\[([^\]]+)\]\s*$", name)
        if brand:
            key = brand.group(1).lower()
            brands[key] = sorted(set(brands.get(key, [])) | set(found))
    _write(out / "rxnorm_products.json", {"products": products, "brands": brands})
    return len(products)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "services" / "pgx" / "kb")
    args = parser.parse_args(argv)
    pgx = args.shared / "data" / "pgx"
    if not pgx.is_dir():
        print(f"build_kb: error: {pgx} not found", file=sys.stderr)
        return 2
    out: Path = args.out
    allele_versions = build_alleles(pgx, out)
    phenotype_versions = build_phenotypes(pgx, out)
    guidelines, counts = build_guidelines(pgx, out)
    drugs = build_drugs(guidelines, out)
    n_products = build_products(args.shared / "data" / "rxnorm", set(drugs), out)
    n_messages = build_messages(pgx, out)
    _write(
        out / "meta.json",
        {
            "schema_version": SCHEMA_VERSION,
            "kb_version": f"{SCHEMA_VERSION}+defs.{allele_versions['CYP2C19']}+guidelines.2024-03-25-16-13",
            "sources": SOURCES,
            "definition_versions": allele_versions,
            "phenotype_versions": phenotype_versions,
            "counts": {
                "genes_callable": len(allele_versions),
                "phenotype_tables": len(phenotype_versions),
                "guidelines": len(guidelines),
                "recommendations": sum(len(g["recommendations"]) for g in guidelines),
                "drugs": len(drugs),
                "rxnorm_products": n_products,
                "ambiguity_messages": n_messages,
                "actions": counts,
            },
            "rxnorm_ingredient_codes": "curated in scripts/_kb_rules.py from RxNorm (NLM RxNav, TTY=IN)",
        },
    )
    print(f"kb written to {out}: {len(guidelines)} guidelines, {len(drugs)} drugs, actions {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
