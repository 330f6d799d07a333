"""Convert the reference tables in ``shared/data/risk`` into the risk engine's own data files.

Usage::

    python scripts/build_risk_data.py [--shared ../shared/data/risk] [--out services/risk/data] [--check]

Each output file records the model, its version, the paper (citation and DOI) and the SHA-256 of the
source table, so a result can always be traced back to the numbers it was computed from. ``--check``
rebuilds in memory and exits 1 if the committed files differ (the test suite does the same).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data" / "risk"
DEFAULT_OUT = REPO / "services" / "risk" / "data"

PREVENT_DOI = "10.1161/CIRCULATIONAHA.123.067626"
PCE_DOI = "10.1161/01.cir.0000437741.48606.98"
PHENOAGE_DOI = "10.18632/aging.101414"
FINDRISC_DOI = "10.2337/diacare.26.3.725"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(path: Path) -> dict[str, str]:
    return {"file": path.name, "sha256": _sha256(path)}


def build_prevent(shared: Path) -> dict[str, Any]:
    """PREVENT base-model log-odds coefficients, by outcome+horizon and sex."""
    path = shared / "prevent_base_coefficients.csv"
    equations: dict[str, dict[str, dict[str, float]]] = {}
    definitions: dict[str, str] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["model"] != "PREVENT_base":
                raise ValueError(f"{path.name}: unexpected model {row['model']!r}")
            key = f"{row['outcome']}_{int(row['horizon_years'])}y"
            equations.setdefault(key, {}).setdefault(row["sex"], {})[row["term"]] = float(row["coefficient"])
            definitions[row["term"]] = row["term_definition"]
    return {
        "model": "prevent",
        "name": "AHA PREVENT equations, base model",
        "version": "PREVENT-base-2024",
        "citation": "Khan SS et al. Development and Validation of the American Heart Association's PREVENT "
        "Equations. Circulation 2024;149(6):430-449.",
        "doi": PREVENT_DOI,
        "source": _source(path),
        "link": "logistic",
        "mmol_per_mg_dl_cholesterol": 0.02586,
        "term_definitions": dict(sorted(definitions.items())),
        "equations": equations,
    }


def build_pce(shared: Path) -> dict[str, Any]:
    """Pooled cohort equations: coefficients, mean sums and baseline survival per race-sex group."""
    path = shared / "pce_2013_coefficients.csv"
    groups: dict[str, dict[str, float]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["model"] != "PCE_2013":
                raise ValueError(f"{path.name}: unexpected model {row['model']!r}")
            groups.setdefault(row["group"], {})[row["term"]] = float(row["coefficient"])
    return {
        "model": "pce",
        "name": "2013 ACC/AHA pooled cohort equations, 10-year ASCVD",
        "version": "PCE-2013",
        "citation": "Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk. "
        "Circulation 2014;129(25 Suppl 2):S49-S73.",
        "doi": PCE_DOI,
        "source": _source(path),
        "groups": groups,
    }


def _number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*([-0-9.]+)", text)
    if match is None:
        raise ValueError(f"phenoage source: cannot find {label!r}")
    return float(match.group(1))


def build_phenoage(shared: Path) -> dict[str, Any]:
    """Levine 2018 PhenoAge: linear predictor weights and the Gompertz constants, read from the source text."""
    path = shared / "phenoage_levine2018.json"
    src = json.loads(path.read_text())
    mortality = src["mortality_score"]
    phenoage = src["phenoage"]
    constants = {
        "gompertz_gamma": _number_after(mortality, "Gompertz gamma ="),
        "mortality_factor": _number_after(mortality, "M = 1 - exp("),
        "phenoage_intercept": _number_after(phenoage, "PhenoAge ="),
        "phenoage_log_factor": _number_after(phenoage, "ln("),
        "denominator": _number_after(phenoage, ") /"),
        "denominator_alternative": 0.09165,
    }
    if "0.09165" not in src["denominator_note"]:
        raise ValueError("phenoage source: the alternative denominator 0.09165 is no longer documented")
    conversions = {
        "albumin_g_dL_to_g_L": float(src["unit_conversions"]["albumin g/dL -> g/L"]),
        "creatinine_mg_dL_to_umol_L": float(src["unit_conversions"]["creatinine mg/dL -> umol/L"]),
        "glucose_mg_dL_to_mmol_L": float(src["unit_conversions"]["glucose mg/dL -> mmol/L"]),
        "crp_mg_L_to_mg_dL": float(src["unit_conversions"]["CRP mg/L -> mg/dL"]),
    }
    return {
        "model": "phenoage",
        "name": src["model"],
        "version": "Levine-2018",
        "citation": "Levine ME et al. An epigenetic biomarker of aging for lifespan and healthspan. "
        "Aging (Albany NY) 2018;10(4):573-591.",
        "doi": PHENOAGE_DOI,
        "source": _source(path),
        "coefficient_source": src["citation"],
        "linear_predictor": {k: float(v) for k, v in src["linear_predictor"].items()},
        "constants": constants,
        "conversions": conversions,
        "defaults": {"crp_transform": "ln", "denominator": constants["denominator"]},
    }


def _band(text: str) -> dict[str, float | None]:
    """'<45' / '45-54' / '>64' as inclusive/exclusive bounds."""
    if text.startswith("<"):
        return {"below": float(text[1:]), "min": None, "max": None, "above": None}
    if text.startswith(">"):
        return {"below": None, "min": None, "max": None, "above": float(text[1:])}
    low, high = text.split("-")
    return {"below": None, "min": float(low), "max": float(high), "above": None}


_FAMILY = {
    "no": "none",
    "grandparent/aunt/uncle/first cousin": "second_degree",
    "parent/sibling/child": "first_degree",
}


def build_findrisc(shared: Path) -> dict[str, Any]:
    """FINDRISC points table (numeric bands and answers) and the total-score categories."""
    path = shared / "findrisc_points.csv"
    numeric: dict[str, list[dict[str, Any]]] = {}
    answers: dict[str, dict[str, int]] = {}
    categories: list[dict[str, Any]] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            item, cat, points = row["item"], row["category"], row["points"]
            if item == "total":
                one_in = re.search(r"1 in (\d+)", row["notes"])
                if one_in is None:
                    raise ValueError(f"{path.name}: no '1 in N' risk for total {cat}")
                percent = round(100 / int(one_in.group(1)))
                categories.append({**_band(cat), "label": f"{points} (~{percent}%)"})
            elif item in {"age_years", "bmi_kg_m2", "waist_cm_male", "waist_cm_female"}:
                numeric.setdefault(item, []).append({**_band(cat), "points": int(points)})
            elif item == "family_history_diabetes":
                answers.setdefault(item, {})[_FAMILY[cat]] = int(points)
            else:
                answers.setdefault(item, {})[cat] = int(points)
    return {
        "model": "findrisc",
        "name": "Finnish Diabetes Risk Score (FINDRISC)",
        "version": "FINDRISC-2003-revised",
        "citation": "Lindstrom J, Tuomilehto J. The diabetes risk score: a practical tool to predict type 2 "
        "diabetes risk. Diabetes Care 2003;26(3):725-731.",
        "doi": FINDRISC_DOI,
        "source": _source(path),
        "numeric": numeric,
        "answers": answers,
        "categories": categories,
    }


BUILDERS = {
    "prevent_base.json": build_prevent,
    "pce_2013.json": build_pce,
    "phenoage_levine2018.json": build_phenoage,
    "findrisc.json": build_findrisc,
}


def render(shared: Path) -> dict[str, str]:
    """File name -> JSON text, deterministic (sorted keys kept as built, 1-space indent)."""
    return {name: json.dumps(build(shared), indent=1) + "\n" for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    files = render(args.shared)
    if args.check:
        stale = [n for n, text in files.items() if not (args.out / n).is_file() or (args.out / n).read_text() != text]
        for name in stale:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
