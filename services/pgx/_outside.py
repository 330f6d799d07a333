"""Outside calls: a diplotype reported by a lab (TSV, FHIR genotype Observation, EHR text) -> GeneResult.

Accepted forms: ``CYP2C19*2/*2``, ``CYP2C19 *2/*2``, ``*2/*2``; DPYD aliases (``*2A/*2A`` for
``c.1905+1G>A (*2A)``); HLA ``*57:01 positive`` / ``*15:02 negative`` / ``*15:02/*57:01``; MT-RNR1
``1555A>G`` or ``m.1555A>G``. An allele the knowledge base does not know gives a result with no
phenotype and a warning: never a guess.
"""

from __future__ import annotations

import re
from pathlib import Path

from services.common.twin import GeneResult, SourceRef
from services.pgx import _kb
from services.pgx._matcher import natural_key
from services.pgx._phenotype import lookup_row, phenotype_of, split_diplotype
from services.pgx.errors import PGxFileError, PGxValueError

HLA_GENES = frozenset({"HLA-A", "HLA-B"})
HLA_ALLELE = re.compile(r"^\*?(\d{2,3}:\d{2,3})(?::\d+)*$")
HLA_STATUS = re.compile(r"^\*?(\d{2,3}:\d{2,3})\s+(positive|negative)$", re.IGNORECASE)
_GENE_ALIASES = {"MT_RNR1": "MT-RNR1", "MTRNR1": "MT-RNR1", "HLAB": "HLA-B", "HLAA": "HLA-A"}


def normalise_gene(gene: str) -> str:
    g = gene.strip().upper()
    return _GENE_ALIASES.get(g.replace("-", "").replace("_", ""), g)


def known_genes() -> frozenset[str]:
    return frozenset(_kb.phenotype_genes()) | HLA_GENES


def _strip_gene(gene: str, text: str) -> str:
    t = text.strip()
    for prefix in (gene, gene.replace("-", "")):
        if t.upper().startswith(prefix.upper()):
            return t[len(prefix) :].strip()
    return t


def _canonical_allele(gene: str, allele: str) -> str | None:
    """The kb's name for ``allele`` (exact, alias in parentheses, or ``m.`` prefix), or None."""
    table = _kb.phenotype_table(gene)
    if table is None:
        return None
    names: dict[str, object] = table["alleles"]
    a = _strip_gene(gene, allele)
    if a in names:
        return a
    if gene == "MT-RNR1" and f"m.{a}" in names:
        return f"m.{a}"
    for name in names:  # DPYD: "*2A" or "c.1905+1G>A" for "c.1905+1G>A (*2A)"
        m = re.match(r"^(.*) \((\*\w+|HapB3)\)$", name)
        if m and a in (m.group(1), m.group(2)):
            return name
    lower = {n.lower(): n for n in names}
    if a.lower() in lower:
        return lower[a.lower()]
    if m := re.match(r"^(\*\w+?)\.\d{3}$", a):  # PharmVar sub-allele (CYP2D6*7.001) -> core allele
        return m.group(1) if m.group(1) in names else None
    return None


def _single_position(gene: str, text: str) -> str | None:
    """``rs9923231 C/T`` -> the kb's ``rs9923231 reference (C)/rs9923231 variant (T)`` (single-SNP genes)."""
    m = re.match(r"^(rs\d+)\s+([ACGT])\s*/\s*([ACGT])$", text.strip())
    table = _kb.phenotype_table(gene)
    if m is None or table is None:
        return None
    names = []
    for base in (m.group(2), m.group(3)):
        hit = [n for n in table["alleles"] if n.startswith(f"{m.group(1)} ") and n.endswith(f"({base})")]
        if len(hit) != 1:
            return None
        names.append(hit[0])
    return "/".join(names)


def _hla_result(gene: str, text: str, source: SourceRef | None, lab_phenotype: str | None) -> GeneResult:
    t = _strip_gene(gene, text)
    if m := HLA_STATUS.match(t):
        call = f"*{m.group(1)} {m.group(2).lower()}"
        return GeneResult(gene=gene, diplotypes=[call], phenotype=call, method="outside-call", source=source)
    parts = [_strip_gene(gene, p) for p in split_diplotype(t)]
    alleles = [HLA_ALLELE.match(p) for p in parts]
    if len(parts) == 1 and alleles[0]:  # a genotype valued with one allele: that allele is present
        call = f"*{alleles[0].group(1)} positive"
        return GeneResult(gene=gene, diplotypes=[call], phenotype=call, method="outside-call", source=source)
    if len(parts) == 2 and all(alleles):
        names = sorted(f"*{a.group(1)}" for a in alleles if a)
        table = _kb.phenotype_table(gene)
        relevant = sorted(table["alleles"]) if table else []
        summary = "; ".join(f"{a} {'positive' if a in names else 'negative'}" for a in relevant) or None
        return GeneResult(
            gene=gene, diplotypes=["/".join(names)], phenotype=summary, method="outside-call", source=source
        )
    return GeneResult(
        gene=gene,
        diplotypes=[t],
        phenotype=None,
        method="outside-call",
        source=source,
        warnings=[f"{gene}: outside call {t!r} is not an HLA genotype or allele status; not interpreted"],
    )


def _unphenotyped_call(gene: str, diplotype: str, source: SourceRef | None) -> GeneResult:
    """A gene with allele definitions but no CPIC phenotype table (CYP4F2): names checked, alleles in the
    caller's order, so a lab's ``*3/*1`` reads like the VCF caller's ``*1/*3`` on every card."""
    defined = {a["name"] for a in _kb.definition(gene)["named_alleles"]}
    raw = [p for p in split_diplotype(_strip_gene(gene, diplotype)) if p]
    unknown = [p for p in raw if p not in defined]
    if unknown:
        return _unknown(gene, "/".join(raw), unknown, None, source)
    return GeneResult(
        gene=gene, diplotypes=["/".join(sorted(raw, key=natural_key))], method="outside-call", source=source
    )


def outside_call(
    gene: str, diplotype: str, *, phenotype: str | None = None, source: SourceRef | None = None
) -> GeneResult:
    """A GeneResult for a diplotype reported outside the VCF (lab report, FHIR Observation, TSV)."""
    g = normalise_gene(gene)
    if not g or not diplotype.strip():
        raise PGxValueError("an outside call needs a gene and a diplotype", location="diplotype")
    if g in HLA_GENES:
        return _hla_result(g, diplotype, source, phenotype)
    if _kb.phenotype_table(g) is None and g in _kb.callable_genes():
        return _unphenotyped_call(g, diplotype, source)
    if _kb.phenotype_table(g) is None:
        return GeneResult(
            gene=g,
            diplotypes=[diplotype.strip()],
            method="outside-call",
            source=source,
            warnings=[f"{g}: gene not in the knowledge base; not interpreted"],
        )
    text = _strip_gene(g, diplotype)
    raw = [p for p in split_diplotype(_single_position(g, text) or text) if p]
    names = [_canonical_allele(g, p) for p in raw]
    unknown = [r for r, n in zip(raw, names, strict=True) if n is None]
    if unknown:
        return _unknown(g, "/".join(raw), unknown, phenotype, source)
    canonical = "/".join(n for n in names if n)
    row = lookup_row(g, canonical)
    if row is not None and len(names) == 2:  # use the table's own allele order
        canonical = _table_order(g, canonical)
    result = phenotype_of(g, [canonical])
    warnings = list(result.warnings)
    if phenotype and result.phenotype and phenotype.strip().lower() != result.phenotype.lower():
        warnings.append(f"{g}: the reported phenotype differs from the CPIC phenotype of the diplotype; CPIC used")
    return GeneResult(
        gene=g,
        diplotypes=[canonical],
        phenotype=result.phenotype,
        activity_score=result.activity_score,
        lookup_key=result.lookup_key,
        method="outside-call",
        source=source,
        warnings=warnings,
    )


def outside_phenotype(
    gene: str, phenotype: str | None, *, activity_score: str | None = None, source: SourceRef | None = None
) -> GeneResult:
    """A lab-reported phenotype without a diplotype (legacy Observations): used only if CPIC names it.

    Activity-score genes (CYP2C9, CYP2D6, DPYD) look recommendations up by score, which a phenotype alone
    does not give, so their result carries no lookup key (the recommendation is then "genotype unknown").
    """
    g = normalise_gene(gene)
    table = _kb.phenotype_table(g)
    if g in HLA_GENES and phenotype:
        return _hla_result(g, phenotype, source, None)
    rows = list(table["diplotypes"].values()) if table else []
    if activity_score:  # PharmCAT's outside-call activity score column (activity-score genes)
        score = activity_score.strip()
        hits = {(row[0], row[2]) for row in rows if row[1] == score}
        if len(hits) == 1:
            (pheno, key), *_ = hits
            return GeneResult(
                gene=g,
                phenotype=pheno,
                activity_score=score,
                lookup_key=key,
                method="outside-call",
                source=source,
                warnings=[f"{g}: activity score as reported, no diplotype"],
            )
        return GeneResult(
            gene=g, method="outside-call", source=source, warnings=[f"{g}: reported activity score not recognised"]
        )
    known = {row[0] for row in rows}
    wanted = (phenotype or "").strip().lower()
    match = next((k for k in known if k and k.lower() == wanted), None)
    if match is None:
        return GeneResult(
            gene=g, method="outside-call", source=source, warnings=[f"{g}: reported phenotype not recognised"]
        )
    scored = any(row[1] for row in rows)
    return GeneResult(
        gene=g,
        phenotype=match,
        lookup_key=None if scored else match,
        method="outside-call",
        source=source,
        warnings=[f"{g}: phenotype as reported, no diplotype"],
    )


def _table_order(gene: str, diplotype: str) -> str:
    table = _kb.phenotype_table(gene)
    if table is not None and diplotype not in table["diplotypes"]:
        a, b = split_diplotype(diplotype)
        return f"{b}/{a}"
    return diplotype


def _unknown(
    gene: str, diplotype: str, unknown: list[str], phenotype: str | None, source: SourceRef | None
) -> GeneResult:
    warnings = [f"{gene}: allele(s) {', '.join(unknown)} not defined in the knowledge base; no phenotype assigned"]
    return GeneResult(
        gene=gene,
        diplotypes=[diplotype],
        phenotype=None,
        method="outside-call",
        source=source,
        warnings=warnings + ([f"{gene}: the reported phenotype was not used"] if phenotype else []),
    )


def hla_status(result: GeneResult, allele: str) -> str | None:
    """``positive`` / ``negative`` for an HLA allele such as ``*57:01``, or None when unknown."""
    for call in result.diplotypes:
        if m := HLA_STATUS.match(call):
            if f"*{m.group(1)}" == allele:
                return m.group(2).lower()
            continue
        parts = split_diplotype(call)
        if len(parts) == 2 and all(HLA_ALLELE.match(p.lstrip("*")) or HLA_ALLELE.match(p) for p in parts):
            return "positive" if allele in parts else "negative"
    return None


_OUTSIDE_COLUMNS = ("gene", "diplotype", "phenotype", "activity score")
_SCORE = re.compile(r"^(?:≥|>=)?\d+(?:\.\d+)?$")


def diplotype_problem(gene: str, text: str) -> str | None:
    """Why ``text`` is not a diplotype of ``gene`` the kb can read, or None (PharmCAT's outside-call rules).

    An allele name unknown to the kb is an error for a gene the kb names alleles for; HLA takes its free
    allele vocabulary (``*57:01``, ``*15:02 positive``, a pair); one allele alone only where the kb has
    one-allele calls (G6PD, MT-RNR1).
    """
    if gene in HLA_GENES:
        probe = _hla_result(gene, text, None, None)
        return f"{text.strip()!r} is not an HLA genotype or allele status" if probe.warnings else None
    table = _kb.phenotype_table(gene)
    if table is None or not table["alleles"]:
        return None
    stripped = _strip_gene(gene, text)
    raw = [p for p in split_diplotype(_single_position(gene, stripped) or stripped) if p]
    unknown = [p for p in raw if _canonical_allele(gene, p) is None]
    if unknown:
        hint = ""
        if stripped.lower() in {str(row[0]).lower() for row in table["diplotypes"].values()}:
            hint = " (a phenotype: it belongs in the phenotype column)"
        elif any(" " in p and "/" in p for p in unknown):
            hint = " (one diplotype per gene)"
        return f"{text.strip()!r} is not a {gene} diplotype: unknown allele {', '.join(map(repr, unknown))}{hint}"
    if len(raw) == 1:
        canonical = _canonical_allele(gene, raw[0]) or raw[0]
        if table["diplotypes"] and lookup_row(gene, canonical) is None:
            return f"{text.strip()!r} is a single allele; a {gene} diplotype is allele/allele"
    return None


def _row_error(path: Path, number: int, field: str, message: str) -> PGxFileError:
    return PGxFileError(message, path=str(path), line=number, field=field)


def _read_lines(path: Path) -> list[str]:
    if path.is_dir():
        raise PGxFileError("is a directory, not an outside-call TSV", path=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PGxFileError(f"cannot read outside-call file: {exc.__class__.__name__}", path=str(path)) from exc
    try:
        return raw.decode("utf-8-sig").splitlines()  # -sig: Excel's "UTF-8 CSV/TSV" starts with a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise PGxFileError(f"not UTF-8 text (byte 0x{byte})", path=str(path), line=line) from None


def read_outside_calls(path: Path) -> list[GeneResult]:
    """Read PharmCAT's outside-call TSV: gene<TAB>diplotype[<TAB>phenotype[<TAB>activity score]].

    Every row is validated (PharmCAT's rules): at most four columns, a diplotype the kb can read (see
    :func:`diplotype_problem`), a numeric activity score; anything else is a PGxFileError naming the
    file, line and field, never a silently ignored value. A UTF-8 byte-order mark is skipped.
    """
    lines = _read_lines(path)
    source = SourceRef(resource_type="TSV", id=path.name)
    results: dict[str, GeneResult] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r").split("\t")
        while len(fields) > len(_OUTSIDE_COLUMNS) and not fields[-1].strip():
            fields.pop()  # trailing empty cells (a spreadsheet export) carry nothing
        if len(fields) > len(_OUTSIDE_COLUMNS):
            raise _row_error(
                path,
                number,
                "columns",
                f"the row has {len(fields)} columns; expected at most {len(_OUTSIDE_COLUMNS)} "
                f"({', '.join(_OUTSIDE_COLUMNS)})",
            )
        gene = normalise_gene(fields[0])
        first, _, rest = fields[0].strip().partition(" ")
        if rest.strip() and gene not in known_genes() and normalise_gene(first) in known_genes():
            raise _row_error(
                path, number, "gene", f"gene and diplotype must be separated by a tab, got {fields[0].strip()!r}"
            )
        if gene not in known_genes():
            raise _row_error(path, number, "gene", f"unknown gene {fields[0].strip()!r}")
        if len(fields) < 2:  # "GENE<TAB>" is PharmCAT's explicit no-call; a lone gene is a broken row
            raise _row_error(
                path,
                number,
                "diplotype",
                f"{gene} has no diplotype column (expected gene<TAB>diplotype; 'gene<TAB>' for no call)",
            )
        if gene in results:
            raise _row_error(path, number, "gene", f"gene {gene} given twice")
        diplotype = fields[1].strip()
        pheno = fields[2].strip() if len(fields) > 2 else ""
        score = fields[3].strip() if len(fields) > 3 else ""
        if score and not _SCORE.match(score):
            raise _row_error(path, number, "activity score", f"activity score {score!r} is not a number")
        if diplotype and (problem := diplotype_problem(gene, diplotype)):
            raise _row_error(path, number, "diplotype", problem)
        if diplotype:
            results[gene] = outside_call(gene, diplotype, phenotype=pheno or None, source=source)
        elif pheno or score:  # PharmCAT allows a phenotype / activity score without a diplotype
            results[gene] = outside_phenotype(gene, pheno or None, activity_score=score or None, source=source)
        else:
            results[gene] = GeneResult(
                gene=gene, method="outside-call", source=source, warnings=[f"{gene}: outside call with no diplotype"]
            )
    return list(results.values())


def apply_outside_calls(genes: dict[str, GeneResult], not_called: set[str], outside: list[GeneResult]) -> None:
    """Outside calls override the VCF's call of their gene (PharmCAT's precedence), saying so when they differ."""
    for call in outside:
        result = call.model_copy(deep=True)
        vcf = genes.get(call.gene)
        if vcf is not None and vcf.diplotypes and vcf.diplotypes != result.diplotypes:
            shown = " or ".join(result.diplotypes) or (f"phenotype {result.phenotype}" if result.phenotype else "")
            result.warnings.append(
                f"{call.gene}: outside call {shown or '(no call)'} replaces the VCF call {' or '.join(vcf.diplotypes)}"
            )
        genes[call.gene] = result
        if result.diplotypes or result.phenotype:
            not_called.discard(call.gene)
        else:
            not_called.add(call.gene)
